"""`task(cfg)` functions behind the Hydra scripts; tests call them directly."""
