"""Notices that arrive: channels (webhook, e-mail, MQTT, Web Push), the notice outbox and its sender, the
messages people read, and the owners' signed links."""
