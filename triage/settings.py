"""Every setting of signal-triage, in one place, with defaults that need no file.

Values come from (highest first) explicit arguments, environment variables
prefixed ``SIGNAL_TRIAGE_`` (nested with ``__``, e.g.
``SIGNAL_TRIAGE_POLICY__MIN_DISTINCT_AUTHORS=6``), a ``.env`` file in the
working directory, then the defaults below. Stages never read this module's
environment themselves: the CLI builds one ``Settings`` and passes it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from triage.access.settings import ApiSettings
from triage.escalation.settings import EscalationSettings
from triage.sources_settings import SourcesSettings


class ClusteringSettings(BaseModel):
    """How problem reports are grouped. Cosine thresholds are on normalized
    all-MiniLM-L6-v2 embeddings."""

    problem_threshold: float = Field(
        0.5, description="Posts below this problem probability are not clustered."
    )
    join_similarity: float = Field(
        0.22,
        description="Mean cosine to a live cluster's recent members needed to join it. The mean over "
        "members (not the cosine to a normalised centroid) keeps broad clusters from absorbing everything: a "
        "centroid of diverse posts is close to all of them.",
    )
    hot_join_similarity: float = Field(
        0.18, description="Join threshold for a cluster that is an incident signal: its wording is confirmed."
    )
    surge_join_levels: list[float] = Field(
        [0.14, 0.10, 0.06],
        description="Looser join thresholds a surging incident may use, each only while the complaints "
        "of its window that resemble it that loosely are still min_rate_ratio times their usual number "
        "(mostly the incident); empty keeps hot_join_similarity.",
    )
    surge_attach_levels: list[float] = Field(
        [0.6],
        description="Plain (uncentred) cosines to a surging incident's centre at which a report the centred "
        "comparison matched to nothing is attached to it, each only while the window's complaints that close "
        "are min_rate_ratio times their usual number; attached reports are reported with the incident but do "
        "not count towards paging. Empty: none.",
    )
    recent_centroid_minutes: float = Field(
        30.0,
        description="Time constant of the decayed centroid posts are matched against, so a cluster is "
        "what people are saying now, not a day's average of everything similar.",
    )
    burst_merge_similarity: float = Field(
        0.45,
        description="Centroid cosine above which a cluster bursting beside an incident on the same service "
        "is folded into it (one outage is described in several ways at once).",
    )
    birth_similarity: float = Field(
        0.35, description="Cosine between pending posts that counts them as saying the same thing."
    )
    loose_birth_similarity: float = Field(
        0.28,
        description="A looser cosine at which pending posts may also form a cluster when they do not at "
        "birth_similarity: an outage's first reports are often worded too variously to look alike at once. "
        "A group formed there must also be min_rate_ratio times its usual number, and the birth chance is "
        "shared between the levels tried. Equal to birth_similarity (or above): one level only.",
    )
    birth_distinct_authors: int = Field(
        3, description="Distinct authors in the pending pool needed to form a cluster."
    )
    birth_window_minutes: float = Field(
        30.0, description="How far back pending posts count towards a new cluster."
    )
    recruit_lookback_minutes: float = Field(
        120.0,
        description="How long reports that joined nothing are kept, so a confirmed incident can take in "
        "its own early reports that did not look alike enough to join at first.",
    )
    birth_max_probability: float = Field(
        0.01,
        description="Poisson tail the group's distinct authors must reach under the baseline to form "
        "a cluster.",
    )
    merge_similarity: float = Field(
        0.7, description="Centroid cosine above which two live clusters are one problem."
    )
    quiet_minutes_to_subside: float = Field(
        30.0, description="No new post for this long: the cluster is subsiding."
    )
    quiet_minutes_to_resolve: float = Field(
        90.0, description="No new post for this long: an escalated cluster is resolved."
    )
    quiet_minutes_to_dissolve: float = Field(
        30.0,
        description="No new post for this long: a cluster that never escalated is closed; its kind of "
        "complaint stays in the baseline, and a later burst starts a fresh cluster.",
    )

    @property
    def birth_levels(self) -> list[float]:
        """The cosines a group may form at, strictest first."""
        loose = [self.loose_birth_similarity] if self.loose_birth_similarity < self.birth_similarity else []
        return [self.birth_similarity, *loose]


class PolicySettings(BaseModel):
    """When a cluster becomes an incident signal, and how severe it is."""

    window_minutes: float = Field(30.0, description="Distinct authors are counted over this trailing window.")
    min_distinct_authors: int = Field(
        5, description="Never escalate with fewer distinct authors in the window."
    )
    max_false_alarm_probability: float = Field(
        1e-4,
        description="Poisson tail probability of the window's authors under the baseline needed to trigger.",
    )
    min_rate_ratio: float = Field(
        3.0,
        description="Never escalate unless the window holds at least this many times the usual distinct "
        "authors: real complaint counts vary more than a Poisson law allows, so a busy everyday kind of "
        "complaint can look improbable at twice its usual rate without anything being broken.",
    )
    after_change_minutes: float = Field(
        90.0,
        description="A deploy, config or flag change on a cluster's service this recently (before the "
        "count) makes an outage there far likelier than on an ordinary hour, so the count may page at a "
        "laxer chance (see after_change_max_budget_factor). 0: every count is held to the same budget.",
    )
    after_change_max_budget_factor: float = Field(
        10.0,
        description="After a change, max_false_alarm_probability is multiplied by the inverse of the share "
        "of the last baseline_hours the service spent that soon after a change, at most by this: the "
        "budget spent after changes then adds at most max_false_alarm_probability to the false alarms, "
        "however often the service changes. 1: no laxer budget.",
    )
    closer_levels: list[float] = Field(
        [0.30, 0.40],
        description="Similarity levels closer than the join test at which a cluster's window is also "
        "tested before paging (the most surprising level decides, its chance multiplied by the number of "
        "levels): an outage's reports say one specific thing, a chance pile-up of everyday complaints of a "
        "broad kind does not. Empty: the join level alone.",
    )
    baseline_hours: float = Field(
        24.0, description="History used to learn how often a kind of complaint is normal."
    )
    learning_hours: float = Field(
        3.0,
        description="Complaint history needed before anything can form a cluster or page: a baseline "
        "must exist first (a live source backfills the previous day on its first start).",
    )
    prior_share: float = Field(
        0.05,
        description="Share of all complaints assumed normal for a new kind of complaint before "
        "history exists.",
    )
    prior_weight_posts: float = Field(100.0, description="How many complaints of history the prior is worth.")
    calm_share_of_peak: float = Field(
        0.3,
        description="An incident whose window holds at most this share of its peak distinct authors "
        "(or no surprising count at all) is calming down; calm for quiet_minutes_to_resolve, it resolves. "
        "Everyday complaints that resemble it must not keep the page open all day.",
    )
    severity_error_authors: int = Field(20, description="Distinct authors from which severity is 'error'.")
    severity_critical_authors: int = Field(
        50, description="Distinct authors from which severity is 'critical'."
    )


class CorrelationSettings(BaseModel):
    """How changes are ranked as likely causes of a cluster."""

    lookback_minutes: float = Field(
        360.0, description="Changes older than this before onset are not candidates."
    )
    lookahead_minutes: float = Field(
        5.0, description="Changes this soon after onset still count (clock skew)."
    )
    time_decay_minutes: float = Field(
        60.0, description="Closeness in time halves its weight every this many minutes."
    )
    weight_service: float = 0.5
    weight_time: float = 0.3
    weight_semantic: float = 0.2
    max_ranked: int = 5


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SIGNAL_TRIAGE_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(Path("var"), description="Where the embedded database and reports live.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default is SQLite at DATA_DIR/signal-triage.db."
    )
    model_dir: Path | None = Field(
        None,
        description="Classifier artifacts: a version folder (pins that version) or an artifacts root "
        "(follows its DEFAULT, which `triage model promote` moves); default is the bundled root.",
    )
    analysis_backend: Literal["torch", "torch-bf16", "openvino-bf16", "onnx-fp32", "onnx-int8"] = Field(
        "torch",
        description="Encoder backend of the live runners and `triage replay`: torch (fp32 reference, "
        "every CPU), torch-bf16 (about 2x faster with the same decisions on CPUs with native bfloat16, "
        "refused elsewhere), openvino-bf16 (the fastest with the same decisions, about 2.5x, on the same "
        "CPUs; needs the openvino extra), onnx-fp32 (needs the onnx extra), onnx-int8 (differs on a few % "
        "of decisions). benchmarks/analysis_speed.py measures each on this machine.",
    )
    broker_url: str | None = Field(
        None,
        description="Redis URL of the scale-out runner's broker and result store, e.g. "
        "redis://127.0.0.1:6379/0; unset means the embedded runner (`triage run`) is the only one "
        "in use. `triage worker` and `triage beat` need it (docs/scale-out.md).",
    )
    broker_visibility_timeout_seconds: int = Field(
        3600,
        description="Seconds before a task taken by a worker that died without acknowledging it is "
        "handed to another worker; longer than the slowest task, or a running task is run twice.",
    )
    analysis_retry_after_failure_seconds: int = Field(
        300,
        ge=1,
        description="Seconds before the posts of an analysis batch that failed for good (its retries "
        "spent, e.g. in a database outage longer than them) are offered to the next dispatch again.",
    )
    analysis_batch_size: int | None = Field(
        None,
        description="Posts per encoder call; unset: the backend's own (64 for torch, onnx and torch-bf16, "
        "256 for openvino-bf16, which splits each call into small requests run side by side).",
    )
    tick_seconds: int = Field(60, description="Event-time interval between clustering/detection passes.")
    continue_triage_passes: bool = Field(
        True,
        description="Live runners continue each triage pass from their last one (cost follows what "
        "arrived); off, every pass rebuilds from everything stored (slower, for ruling the memory out).",
    )
    clustering: ClusteringSettings = ClusteringSettings()
    policy: PolicySettings = PolicySettings()
    correlation: CorrelationSettings = CorrelationSettings()
    sources: SourcesSettings = SourcesSettings()
    api: ApiSettings = ApiSettings()
    escalation: EscalationSettings = EscalationSettings()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'signal-triage.db').as_posix()}"
