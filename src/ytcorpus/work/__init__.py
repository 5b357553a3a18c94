"""The worker, one module per stage: download.py (claims, audio files), prepare.py
(decode, VAD, speech chunks, engine.prepare), pool.py (chunks in flight, bounded by audio
seconds), batch.py (the engine loop), write.py (reassembly, quality, storing), and
worker.py (the process around them: leases, heartbeat, signals, stop). pipeline.py runs
the same stages over local files without a queue."""
