"""`ytcorpus launch`: one supervised `ytcorpus work` process per GPU (or MIG instance) on
this machine. `files` holds the settings and the files in the log folder, `gpus` reads
nvidia-smi, `supervisor` keeps one worker running, `launcher` starts, stops and lists them."""
