"""Central service: MQTT ingest, storage, shop matching, cases, grades, notifications, web pages."""
