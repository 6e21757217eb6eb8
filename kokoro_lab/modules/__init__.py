"""Pure nn.Modules of Kokoro-82M: no Lightning, Hydra or file I/O here."""
