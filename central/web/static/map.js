// Doorline console map: Leaflet from this server (static/vendor/leaflet), vector layers only unless the
// deployment configured tiles; points come converted to the tiles' datum by the server.
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) { return; }
  var data = JSON.parse(document.getElementById("map-data").textContent);
  var labels = JSON.parse(el.getAttribute("data-labels"));
  var colours = { red: "#c62828", yellow: "#e0a800", green: "#2e8540", none: "#8a949e" };
  var edgeColours = { online: "#2e8540", degraded: "#e0a800", offline: "#c62828", unknown: "#8a949e" };
  var map = L.map(el, { preferCanvas: false, zoomControl: true, attributionControl: true, maxZoom: 19 });
  var tiles = el.getAttribute("data-tiles");
  if (tiles) {
    L.tileLayer(tiles, { maxZoom: 19, attribution: el.getAttribute("data-attribution") || "" }).addTo(map);
  }
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  var shops = L.layerGroup(data.shops.map(function (s) {
    return L.circleMarker([s.lat, s.lon], { radius: 7, color: "#1d232b", weight: 1, fillOpacity: 0.9,
      fillColor: colours[s.grade] || colours.none, className: "shop-marker grade-" + s.grade })
      .bindPopup("<b>" + esc(s.name) + "</b><br>" + esc(s.address) + "<br>" + esc(labels.grade[s.grade] || s.grade) +
        '<br><a class="shop-file" href="/console/shops/' + encodeURIComponent(s.id) + '">' + esc(labels.file) + "</a>" +
        ' · <a href="/console/cases?shop=' + encodeURIComponent(s.id) + '">' + esc(labels.case) + "</a>");
  }));
  var focus = new URLSearchParams(window.location.search).get("hotspot");
  var focused = null;
  var hot = L.layerGroup(data.hotspots.map(function (h) {
    var circle = L.circle([h.lat, h.lon], { radius: 40, color: "#c62828", weight: 2, fillOpacity: 0.15,
      dashArray: "4 4", className: "hotspot-marker" })
      .bindPopup("<b>" + esc(labels.hotspot) + "</b><br>" + esc(h.address) + "<br>" + h.tickets + " " + esc(labels.tickets) +
        '<br><a href="/console/hotspots">' + esc(labels.hotspots) + "</a>");
    if (focus !== null && h.address === focus) { focused = circle; }
    return circle;
  }));
  function device(kind) {
    return function (d) {
      var shape = kind === "drone" ? "◆" : "■";
      return L.marker([d.lat, d.lon], { icon: L.divIcon({ className: "device-marker " + kind + " edge-" + d.state,
        html: '<span style="color:' + (edgeColours[d.state] || edgeColours.unknown) + '">' + shape + "</span>",
        iconSize: [16, 16] }), title: labels[kind] + " " + d.id })
        .bindPopup("<b>" + esc(labels[kind]) + " " + esc(d.id) + "</b><br>" + esc(labels.edge[d.state] || d.state));
    };
  }
  var cams = L.layerGroup(data.cameras.map(device("camera")));
  var drones = L.layerGroup(data.drones.map(device("drone")));
  var cases = L.layerGroup(data.cases.map(function (c) {
    return L.circleMarker([c.lat, c.lon], { radius: 12, color: "#1f5fa8", weight: 2, fill: false,
      className: "case-marker state-" + c.state })
      .bindPopup("<b>" + esc(labels.violation[c.violation] || c.violation) + "</b><br>" +
        esc(labels.state[c.state] || c.state) + '<br><a href="/console/cases/' + encodeURIComponent(c.id) + '">' +
        esc(labels.open) + "</a>");
  }));
  [shops, hot, cams, drones, cases].forEach(function (g) { g.addTo(map); });
  var overlays = {};
  overlays[labels.shop] = shops; overlays[labels.hotspot] = hot; overlays[labels.camera] = cams;
  overlays[labels.drone] = drones; overlays[labels.case] = cases;
  L.control.layers(null, overlays, { collapsed: false }).addTo(map);
  var points = data.shops.concat(data.cases, data.cameras, data.drones).map(function (p) { return [p.lat, p.lon]; });
  if (focused) {  // opened from the hot spot list: that hot spot in the middle, its popup open
    map.setView(focused.getLatLng(), 18);
    focused.openPopup();
    el.setAttribute("data-focus", focus);
  } else if (points.length) {  // (one point alone would zoom in without end)
    map.fitBounds(L.latLngBounds(points).pad(0.15), { maxZoom: 18 });
  } else { map.setView([31.23, 121.47], 12); }
  el.setAttribute("data-ready", "1");
})();
