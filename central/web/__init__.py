"""Server-rendered pages: the operator console (/console) and the shop-owner page (/shop/...).
Everything is served from this package; no CDN, no web fonts, no chart library."""
