"""The wire contract between edge and central: message schema, topics and ids."""
