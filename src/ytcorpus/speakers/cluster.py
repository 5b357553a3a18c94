"""Embeddings -> speaker labels, the number of speakers unknown.

Agglomerative clustering (average linkage, cosine distance) cut at a distance threshold,
then one nearest-centroid pass; clusters too small to be a voice of their own join the
nearest one. Chosen by measurement on bench/diarize.py's set (docs/diarize.md): a bare
threshold found the right number of speakers on 4-16 of 20 files, silhouette-chosen k
and merging close centroids did worse; the small-cluster rule brought it to 18 of 20.

Bounded for long inputs: at most MAX_POINTS windows (evenly spaced) are clustered; every
window is then labelled by its nearest centroid (memory O(MAX_POINTS^2) floats, 16 MB).
"""

from __future__ import annotations

import numpy as np

THRESHOLD = 0.30      # cosine distance (average linkage) at which clusters stay apart
MAX_POINTS = 2000
# a voice needs MIN_CLUSTER windows and MIN_SHARE of them, but never more than MIN_CAP
# windows (about 12 s of speech: a 20 s question in a 3-hour lecture is still a voice);
# smaller clusters (a cough, a window across a change of speaker) join the nearest one
MIN_CLUSTER, MIN_SHARE, MIN_CAP = 3, 0.06, 16


def cluster_speakers(vectors: np.ndarray, *, threshold: float = THRESHOLD,
                     max_points: int = MAX_POINTS, min_cluster: int | None = None,
                     ) -> np.ndarray:
    """(n, d) L2-normed embeddings -> n labels 0, 1, ... in order of first appearance."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0, int)
    if n == 1:
        return np.zeros(1, int)
    pick = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))
    if min_cluster is None:
        min_cluster = max(MIN_CLUSTER, min(int(MIN_SHARE * len(pick)), MIN_CAP))
    labels = _agglomerative(vectors[pick], threshold)
    centroids = _centroids(vectors[pick], labels)
    centroids = _drop_small(vectors[pick], centroids, min_cluster)
    labels = _nearest(vectors, centroids)
    return _by_first_appearance(labels)


def _agglomerative(x: np.ndarray, threshold: float) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster, linkage

    tree = linkage(x.astype(np.float64), method="average", metric="cosine")
    return fcluster(tree, t=threshold, criterion="distance") - 1


def _centroids(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    out = np.stack([x[labels == k].mean(axis=0) for k in range(labels.max() + 1)])
    return out / np.linalg.norm(out, axis=1, keepdims=True).clip(1e-8)


def _nearest(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    return np.argmax(x @ centroids.T, axis=1)


def _drop_small(x: np.ndarray, centroids: np.ndarray, min_cluster: int) -> np.ndarray:
    """Centroids with fewer than min_cluster windows nearest to them go (while more than
    one is left); their windows fall to the nearest remaining centroid."""
    while len(centroids) > 1:
        counts = np.bincount(_nearest(x, centroids), minlength=len(centroids))
        smallest = int(np.argmin(counts))
        if counts[smallest] >= min_cluster:
            break
        centroids = np.delete(centroids, smallest, axis=0)
    return centroids


def _by_first_appearance(labels: np.ndarray) -> np.ndarray:
    order: dict[int, int] = {}
    for label in labels:
        order.setdefault(int(label), len(order))
    return np.array([order[int(v)] for v in labels], int)
