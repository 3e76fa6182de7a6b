"""Which catalogued service a change event is about.

Feeds name things their own way: GitHub by repository, Alertmanager by
labels, other tools by free text. Matching goes from the most explicit
evidence to the least (repository, then alert labels, then a label whose value
is a service's own name, then keywords in the summary), so a keyword can never
override what a repository or label says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServiceRule:
    name: str
    repositories: tuple[str, ...] = ()
    alert_labels: tuple[tuple[str, str], ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceMap:
    rules: tuple[ServiceRule, ...] = ()
    service_label_names: tuple[str, ...] = ("service", "app", "job")
    _keyword_patterns: dict[str, re.Pattern[str]] = field(default_factory=dict, compare=False, repr=False)

    def resolve(
        self, *, repository: str | None = None, labels: Mapping[str, str] | None = None, text: str = ""
    ) -> str | None:
        """The service this evidence points at, or None when nothing in the catalog matches."""
        if repository:
            wanted = repository.lower()
            for rule in self.rules:
                if any(repo.lower() == wanted for repo in rule.repositories):
                    return rule.name
        labels = labels or {}
        for rule in self.rules:
            if any(labels.get(key) == value for key, value in rule.alert_labels):
                return rule.name
        names = {rule.name.lower(): rule.name for rule in self.rules}
        for label in self.service_label_names:
            value = labels.get(label)
            if value and value.lower() in names:
                return names[value.lower()]
        if text:
            for rule in self.rules:
                pattern = self._pattern(rule)
                if pattern is not None and pattern.search(text):
                    return rule.name
        return None

    def _pattern(self, rule: ServiceRule) -> re.Pattern[str] | None:
        """Whole-word, case-insensitive: 'cart' must not match 'cartography'."""
        if not rule.keywords:
            return None
        if rule.name not in self._keyword_patterns:
            words = "|".join(re.escape(word) for word in sorted(rule.keywords, key=len, reverse=True))
            self._keyword_patterns[rule.name] = re.compile(rf"\b(?:{words})\b", re.IGNORECASE)
        return self._keyword_patterns[rule.name]
