"""Lightning modules: they hold a KokoroModel and contain no architecture."""
