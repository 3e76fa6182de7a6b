"""Which service a cluster is about, matched against the service catalog.

Matching is semantic (the cluster's centroid against each service's name,
description and keywords) and each member votes, because a cluster's centroid
can sit between two services while most of its posts clearly name one. A
wrong service takes the cause ranking down with it, so the vote is weighted
by how clearly each post points at its service.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.records import Service
from triage.clustering import Cluster

#: posts this close to no service do not vote
_MIN_VOTE_SIMILARITY = 0.15


@dataclass(frozen=True)
class ServiceMatch:
    service: str | None
    confidence: float
    scores: dict[str, float]


class ServiceCatalog:
    def __init__(self, services: list[Service], embeddings: np.ndarray) -> None:
        self.services = services
        self.embeddings = embeddings.astype(np.float32) if len(services) else np.zeros((0, 384), np.float32)

    @property
    def names(self) -> list[str]:
        return [service.name for service in self.services]

    def match(self, cluster: Cluster, background: np.ndarray | None = None) -> ServiceMatch:
        """``background`` is what every complaint of the stream shares (the mean complaint); a post
        points at a service by how much closer it is than that, so a ticket template or a word every
        complaint uses does not pull all clusters to whichever service happens to resemble it."""
        if not self.services:
            return ServiceMatch(None, 0.0, {})
        vectors = np.stack([member.embedding for member in cluster.members[-200:]])
        similarities = vectors @ self.embeddings.T
        if background is not None:
            similarities = similarities - (self.embeddings @ background)[None, :]
        best = similarities.argmax(axis=1)
        margin = similarities.max(axis=1)
        votes = np.zeros(len(self.services))
        for index, similarity in zip(best.tolist(), margin.tolist(), strict=True):
            if similarity >= _MIN_VOTE_SIMILARITY:
                votes[index] += similarity
        centroid_similarity = self.embeddings @ cluster.centroid
        scores = votes / max(votes.sum(), 1e-9) + centroid_similarity
        winner = int(np.argmax(scores))
        ordered = np.sort(scores)[::-1]
        confidence = float(ordered[0] - ordered[1]) if len(ordered) > 1 else float(ordered[0])
        return ServiceMatch(
            self.services[winner].name,
            confidence,
            {
                service.name: round(float(score), 4)
                for service, score in zip(self.services, scores, strict=True)
            },
        )
