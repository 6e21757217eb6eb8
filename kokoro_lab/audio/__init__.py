"""Signal code in one place: audio files (io), input checks and resampling (checks), acoustic
features (features: log-mel, energy, pitch)."""
