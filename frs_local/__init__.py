"""Local development tooling (frs local, the replay server, the local gateway): not shipped to Lambda."""
