"""Renders ``MODEL_CARD.md`` from a training run's manifest (figures are never typed in by hand)."""

from __future__ import annotations

from typing import Any

DATASET_ROLES = {
    "banking77": "problem intents vs question/request intents (fixed split; fee intents left out)",
    "nlbse24_issue_reports": "bug vs feature/question GitHub issues (fixed split)",
    "maalej2016_app_reviews": "reviews with a Bug label vs the rest (dedup, hash split)",
    "tizard2019_forum_sentences": "apparent bug / bug confirmation vs other sentences (dedup, hash split)",
    "airline_sentiment_2015": 'negative with a concrete reason vs neutral/positive; "Can\'t Tell" left out',
    "sanders_tech_tweets": "irrelevant/neutral/positive tech tweets as noise; negatives left out",
    "semeval2017_task4a_devdata": "general tweets of every sentiment as noise (seeded sample)",
    "reviewed_labels": (
        "people's relabels, confirmed and dismissed clusters (`triage labels export`, hash split)"
    ),
}


HEADS = ("problem", "category", "sentiment")


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def reproduce_flags(options: dict[str, Any]) -> str:
    """CLI flags beyond version and seed that this artifact's options need."""
    flags = ""
    if options.get("problem_head", "logistic") != "mlp":
        flags += f" --problem-head {options.get('problem_head', 'logistic')}"
    weighting = options.get("dataset_weighting", "equal" if "problem_head" in options else "sqrt")
    if weighting != "equal":
        flags += f" --dataset-weighting {weighting}"
    if options.get("sentiment_sample", 0):
        flags += f" --sentiment-sample {options['sentiment_sample']}"
    if options.get("noise_sample", 6000) != 6000:
        flags += f" --noise-sample {options['noise_sample']}"
    if options.get("max_per_split", 0):
        flags += f" --max-per-split {options['max_per_split']}"
    if options.get("features", "embedding") != "embedding":
        flags += f" --features {options['features']}"
    if options.get("problem_heads_from"):
        flags += f" --problem-heads-from {options['problem_heads_from']}"
    return flags


LAYER_POOLS_TEXT = (
    "the masked mean pools of all six transformer layers of the same pass, each L2-normalised, side by "
    "side (2,304 numbers ending with the embedding)"
)


def kinds_per_head(manifest: dict[str, Any]) -> dict[str, str]:
    """The feature kind each head reads (the manifest names one for all heads, or one per head)."""
    named = manifest.get("features", "embedding")
    kinds = dict.fromkeys(HEADS, named) if isinstance(named, str) else dict(named)
    return {head: kinds.get(head, "embedding") for head in HEADS}


def features_text(manifest: dict[str, Any]) -> str:
    """What the heads read, in words."""
    on_pools = [head for head, kind in kinds_per_head(manifest).items() if kind == "layer-pools"]
    if not on_pools:
        return "Heads on the 384-d embedding"
    if len(on_pools) == len(HEADS):
        return f"Heads on {LAYER_POOLS_TEXT}"
    return (
        f"{' and '.join(on_pools).capitalize()} on {LAYER_POOLS_TEXT}; the other heads on the 384-d embedding"
    )


def reviewed_flag(manifest: dict[str, Any]) -> str:
    """The reviewed-labels file a version was trained on, as the flag that reproduces it."""
    reviewed = manifest.get("training_data", {}).get("reviewed_labels")
    return f" --reviewed-labels {reviewed['file']}" if reviewed else ""


def serving_lines(manifest: dict[str, Any]) -> list[str]:
    """What serving heads on layer pools costs that heads on the embedding do not."""
    if "layer-pools" not in kinds_per_head(manifest).values():
        return []
    return [
        "- Serving: a head reads every layer's pool, which the database does not keep; re-scoring stored "
        "posts (a promotion, shadow mode) encodes their texts again, and only the torch, torch-bf16 and "
        "openvino-bf16 backends expose the layers (the ONNX backends are refused)."
    ]


def problem_head_text(problem: dict[str, Any]) -> str:
    """How the problem head was built, in words."""
    kept = f"; the heads of {problem['heads_from']}, kept unchanged" if problem.get("heads_from") else ""
    if problem.get("head") == "mlp":
        return f"MLP with one hidden ReLU layer, datasets weighted equally{kept}"
    return f"logistic regression, C = {problem['regularization_c']}{kept}"


def lineage_lines(manifest: dict[str, Any]) -> list[str]:
    """Parent version, reviewed-labels file and sample caps: what a promotion decision needs to know."""
    lines = ["", "## Lineage", "", f"- parent version: {manifest.get('parent') or 'none recorded'}"]
    reviewed = manifest.get("training_data", {}).get("reviewed_labels")
    if reviewed:
        lines.append(
            f"- reviewed labels: `{reviewed['file']}` (sha256 {reviewed['sha256'][:12]}…), "
            f"{reviewed['rows']} rows, {reviewed['texts']} distinct texts, "
            f"{reviewed['problems']} problem reports"
        )
    cap = manifest.get("training_options", {}).get("max_per_split", 0)
    if cap:
        lines.append(
            f"- small run: at most {cap} rows per dataset and split; figures are not comparable to v2"
        )
    return lines


def render_model_card(version: str, manifest: dict[str, Any]) -> str:
    """Markdown model card for one artifact version."""
    sentiment = manifest["metrics"]["sentiment"]
    problem = manifest["metrics"]["problem"]
    options = manifest["training_options"]
    lines = [
        f"# signal-triage classifier {version}",
        "",
        f"Created {manifest['created']}. Encoder: `{manifest['encoder']}` (frozen, from the PyPI package "
        f"`{manifest['encoder_package']}`); embedding: {manifest['embedding']}. {features_text(manifest)}: "
        f"problem: {problem_head_text(problem)}, Platt-calibrated; category: multinomial "
        "logistic regression over problem reports; sentiment: 3-class logistic regression, class-balanced, "
        "logit shift tuned on TweetEval validation.",
        "",
        "Reproduce: `triage model train --version "
        + version
        + f" --seed {options['seed']}"
        + reproduce_flags(options)
        + reviewed_flag(manifest)
        + "` "
        "(CPU, minutes with a warm embedding cache).",
        "",
        "## Intended use",
        "",
        "Triage of English customer posts (tweets, support tickets, app reviews) into *problem report* vs "
        "not, a coarse problem category, and sentiment, ahead of clustering. A problem report is a post in "
        "which the author says something the company provides is not working (failed, declined, missing, "
        "wrong, stuck, slow, down, crashing); questions, requests, feature wishes, praise and chatter are "
        "not. Not intended for decisions about individual people, and not for non-English text (the "
        "analysis marks the language; scores for other languages are unreliable).",
        "",
        "## Training data and label mapping",
        "",
        "All sets are read from `../shared/datasets`, deduplicated by normalised text before any split; sets "
        "without a fixed split are split 70/10/20 by a hash of the normalised text. Full mapping and the "
        "category taxonomy: `classifier/labels.py`.",
        "",
        "| dataset | role | train rows |",
        "|---|---|---|",
    ]
    for dataset, role in DATASET_ROLES.items():
        if dataset == "reviewed_labels" and dataset not in problem["train_rows_per_dataset"]:
            continue
        rows = problem["train_rows_per_dataset"].get(dataset, 0)
        lines.append(f"| {dataset} | {role} | {rows} |")
    lines += lineage_lines(manifest)
    lines += [
        "",
        f"Sentiment: {sentiment['train_rows']} deduplicated SemEval 2013-2016 tweets (rows flagged as, or "
        "textually equal to, TweetEval validation/test removed); tuned on TweetEval validation; C = "
        f"{sentiment['regularization_c']}, logit shift (neg, neu, pos) = {sentiment['logit_bias']}.",
        "",
        "## Evaluation (held-out test parts, never trained or tuned on)",
        "",
        f"Sentiment, TweetEval test ({sentiment['tweeteval_test_rows']} tweets): macro-averaged recall "
        f"**{_pct(sentiment['tweeteval_test_macro_recall'])}**, accuracy "
        f"{_pct(sentiment['tweeteval_test_accuracy'])} (validation macro recall "
        f"{_pct(sentiment['tweeteval_validation_macro_recall'])}).",
        "",
        f"Problem report at threshold {manifest['problem_threshold']} ({problem_head_text(problem)}):",
        "",
        "| test set | n | problems | precision | recall | F1 | flagged | category acc. | category macro-F1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for dataset, scores in problem["test"].items():
        category = (
            f"{_pct(scores['category_accuracy'])} | {_pct(scores['category_macro_f1'])}"
            if "category_accuracy" in scores
            else "– | –"
        )
        lines.append(
            f"| {dataset} | {int(scores['n'])} | {int(scores['positives'])} | {_pct(scores['precision'])} | "
            f"{_pct(scores['recall'])} | {scores['f1']:.3f} | {_pct(scores['flagged_rate'])} % | {category} |"
        )
    lines += [
        "",
        f"General tweets (TweetEval test, none of which is labelled a problem report): "
        f"{_pct(problem['tweeteval_test_flagged_rate'])} % flagged as problem reports.",
        "",
        "## Known failure modes",
        "",
        '- Domain gap: no training set is "tweets about software outages labelled problem vs other". The '
        "problem head learns software bugs from issue trackers, reviews and forum sentences, service "
        "failures from airline tweets, and money problems from banking queries; expect lower precision "
        "on tweets about software, and measure on your own stream.",
        "- Category is partly domain: app_malfunction comes only from software sets, delay/booking/"
        "luggage/customer_service only from airline tweets, payment/transfer/access only from banking77. "
        "A software outage tweet about payments may be labelled app_malfunction or payment.",
        '- Complaints vs problem reports: angry opinions about a company ("worst airline ever") sit close '
        'to service-failure reports; airline negatives with reason "Customer Service Issue" count as '
        "problems, so rude-staff complaints score high.",
        '- Sarcasm and very short posts ("great. just great.") are often misread by the sentiment head.',
        "- Calibration is fitted on the pooled validation parts of the training mixture; the base rate of "
        "problem reports in a real stream differs, so treat the probability as a ranking score and the "
        "threshold as a starting point.",
        "- Non-English posts: heads are English-only; language detection is a heuristic.",
        *serving_lines(manifest),
        "",
        "## Licences of the training data",
        "",
        "airline_sentiment_2015 is CC BY-NC-SA 4.0 (NonCommercial); banking77 CC BY 4.0; tizard2019 CC BY; "
        "the others state no licence (research use with citation). Check before commercial use of this "
        "artifact.",
        "",
    ]
    return "\n".join(lines)
