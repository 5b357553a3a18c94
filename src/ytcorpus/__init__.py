"""ytcorpus: YouTube and any audio/video source -> a clean text corpus."""

__version__ = "0.1.0"
