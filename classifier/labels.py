"""Label mapping: each dataset's labels -> problem report yes/no, and -> a coarse problem category.

Definition. A *problem report* is a post in which the author says that something the company provides is
not working as it should: it failed, was declined, is missing, wrong, stuck, slow, down or crashing. A
question, a request, a feature wish, praise, an opinion and unrelated chatter are not problem reports —
including generic negative chatter ("I hate mondays"), which is why general-domain tweets of every
sentiment are used as negatives.

Each mapping returns ``True`` (problem), ``False`` (not a problem) or ``None`` (ambiguous: neither trained
on nor scored). Ambiguous groups are listed next to each mapping with the reason.

Category taxonomy (coarse, what a support lead would group by; only defined for problem reports):

===================  ===========================================================================
category             meaning
===================  ===========================================================================
payment              a charge, card payment or withdrawal failed, was declined, doubled, wrong, or
                     is unrecognised / not refunded
transfer_or_delivery money, a top-up or a physical item did not arrive, is pending or bounced
account_access       the customer is locked out: blocked PIN, identity verification failing, login
app_malfunction      software misbehaves: crash, error, feature broken, wrong output, slow or down
delay_or_cancellation  a scheduled service ran late or was cancelled
booking_or_order     booking, reservation, change or order flow failed
lost_or_damaged      belongings lost or damaged by the provider (luggage, a swallowed card)
customer_service     support or staff failed the customer (unreachable, unhelpful, rude)
service_quality      the service was delivered badly (bad trip, long queues)
===================  ===========================================================================

Known limitation: most categories come from one dataset each (app_malfunction from issue trackers, app
reviews and forums; delay/booking/luggage/customer_service from airline tweets; payment/transfer/access
from banking77), so the category head partly learns the domain. The model card reports this.
"""

from __future__ import annotations

CATEGORIES = (
    "payment",
    "transfer_or_delivery",
    "account_access",
    "app_malfunction",
    "delay_or_cancellation",
    "booking_or_order",
    "lost_or_damaged",
    "customer_service",
    "service_quality",
)

# banking77 intents that are problem reports, with their category. Every other intent is a question or a
# request (card_delivery_estimate, activate_my_card, exchange_rate, lost_or_stolen_card, ...) except the
# ambiguous ones below.
BANKING77_PROBLEMS: dict[str, str] = {
    "Refund_not_showing_up": "payment",
    "card_not_working": "payment",
    "card_payment_not_recognised": "payment",
    "card_payment_wrong_exchange_rate": "payment",
    "cash_withdrawal_not_recognised": "payment",
    "contactless_not_working": "payment",
    "declined_card_payment": "payment",
    "declined_cash_withdrawal": "payment",
    "direct_debit_payment_not_recognised": "payment",
    "extra_charge_on_statement": "payment",
    "pending_card_payment": "payment",
    "pending_cash_withdrawal": "payment",
    "reverted_card_payment?": "payment",
    "transaction_charged_twice": "payment",
    "virtual_card_not_working": "payment",
    "wrong_amount_of_cash_received": "payment",
    "wrong_exchange_rate_for_cash_withdrawal": "payment",
    "balance_not_updated_after_bank_transfer": "transfer_or_delivery",
    "balance_not_updated_after_cheque_or_cash_deposit": "transfer_or_delivery",
    "beneficiary_not_allowed": "transfer_or_delivery",
    "card_arrival": "transfer_or_delivery",
    "declined_transfer": "transfer_or_delivery",
    "failed_transfer": "transfer_or_delivery",
    "pending_top_up": "transfer_or_delivery",
    "pending_transfer": "transfer_or_delivery",
    "top_up_failed": "transfer_or_delivery",
    "top_up_reverted": "transfer_or_delivery",
    "transfer_not_received_by_recipient": "transfer_or_delivery",
    "pin_blocked": "account_access",
    "unable_to_verify_identity": "account_access",
    "card_swallowed": "lost_or_damaged",
}
# "Why was I charged a fee?" intents mix pricing questions with complaints about an unexpected charge.
BANKING77_AMBIGUOUS = frozenset(
    {"card_payment_fee_charged", "cash_withdrawal_charge", "transfer_fee_charged"}
)

# airline negativereason -> category. "Can't Tell" negatives are ambiguous (negative, reason unknown).
AIRLINE_REASON_CATEGORIES: dict[str, str] = {
    "Late Flight": "delay_or_cancellation",
    "Cancelled Flight": "delay_or_cancellation",
    "Flight Booking Problems": "booking_or_order",
    "Lost Luggage": "lost_or_damaged",
    "Damaged Luggage": "lost_or_damaged",
    "Customer Service Issue": "customer_service",
    "Flight Attendant Complaints": "customer_service",
    "Bad Flight": "service_quality",
    "longlines": "service_quality",
}

# tizard2019 sentence labels. Problem: the sentence reports or confirms a bug. Ambiguous: help seeking
# (often "X does not work, help?" but also plain how-to), unsatisfactory behaviour, "me too" agreement and
# annotator hedges (-uncertain). Everything else (guidance, questions, feature requests, praise,
# information giving, non-informative) is not a problem report.
TIZARD_PROBLEMS = frozenset({"apparent bug", "bug confirmation"})
TIZARD_AMBIGUOUS = frozenset(
    {
        "help seeking",
        "help seeker",
        "unsatisfactory behaviour",
        "agreeing with the problem",
        "is-uncertain",
        "ig-uncertain",
        "application guidance-uncertain",
        "not sure",
        "negative sentiment-application",
        "dispraise application",
        "dispraise for application",
    }
)


def banking77_problem(intent: str) -> bool | None:
    """Problem intents (failed/declined/missing/wrong) vs question/request intents."""
    if intent in BANKING77_AMBIGUOUS:
        return None
    return intent in BANKING77_PROBLEMS


def nlbse24_problem(label: str) -> bool:
    """``bug`` vs ``feature``/``question``."""
    return label == "bug"


def maalej2016_problem(labels: str) -> bool:
    """A review is a problem report when any of its labels (``|``-joined) is ``Bug``."""
    return "Bug" in labels.split("|")


def airline_problem(label: str) -> bool | None:
    """Negative with a concrete reason vs neutral/positive; negative with "Can't Tell" is ambiguous."""
    if not label.startswith("negative"):
        return False
    reason = label.partition(":")[2]
    return True if reason in AIRLINE_REASON_CATEGORIES else None


def sanders_problem(label: str) -> bool | None:
    """Irrelevant, neutral and positive tweets are noise; negatives mix outages with opinions: ambiguous."""
    return None if label == "negative" else False


def semeval_problem(label: str) -> bool:
    """General-domain tweets of every sentiment are noise (the "I hate mondays" negatives)."""
    return False


def tizard_problem(label: str) -> bool | None:
    """Apparent bug / bug confirmation vs guidance, questions, requests, chatter."""
    if label in TIZARD_AMBIGUOUS:
        return None
    return label in TIZARD_PROBLEMS


REVIEWED_DATASET = "reviewed_labels"


def reviewed_problem(label: str) -> bool:
    """People's labels from ``triage labels export``: ``problem``, ``not_problem`` or ``category:<name>``."""
    return label != "not_problem"


PROBLEM_MAPPINGS = {
    "banking77": banking77_problem,
    "nlbse24_issue_reports": nlbse24_problem,
    "maalej2016_app_reviews": maalej2016_problem,
    "airline_sentiment_2015": airline_problem,
    "sanders_tech_tweets": sanders_problem,
    "semeval2017_task4a_devdata": semeval_problem,
    "tizard2019_forum_sentences": tizard_problem,
    REVIEWED_DATASET: reviewed_problem,
}


def problem_label(dataset: str, label: str) -> bool | None:
    """Problem-report label of one record of ``dataset`` (``None`` = ambiguous, leave out)."""
    try:
        mapping = PROBLEM_MAPPINGS[dataset]
    except KeyError:
        raise ValueError(f"no problem-report mapping for dataset {dataset!r}") from None
    return mapping(label)


def problem_category(dataset: str, label: str) -> str | None:
    """Coarse category of a problem report (``None`` when the record is not a problem report)."""
    if problem_label(dataset, label) is not True:
        return None
    if dataset == "banking77":
        return BANKING77_PROBLEMS[label]
    if dataset == "airline_sentiment_2015":
        return AIRLINE_REASON_CATEGORIES[label.partition(":")[2]]
    if dataset == REVIEWED_DATASET:
        # a person's category counts only when it is one the category head knows; otherwise the post
        # still teaches the problem head, and the category head skips it
        name = label.partition(":")[2]
        return name if name in CATEGORIES else None
    return "app_malfunction"
