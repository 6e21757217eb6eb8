"""Training data: the LJSpeech metadata reader, cached datasets, the sampler, the datamodule."""
