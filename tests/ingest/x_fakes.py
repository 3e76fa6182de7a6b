"""X API v2 bodies and headers as the API documents them, built per test."""

from __future__ import annotations

from typing import Any

SEARCH_URL = "https://api.twitter.com/2/tweets/search/recent"
RESET_EPOCH = 1772370000  # 2026-03-01T13:00:00Z


def tweet(
    tweet_id: int,
    text: str = "@acme my card keeps getting declined",
    author_id: str = "2244994945",
    created_at: str = "2026-03-01T10:02:11.000Z",
) -> dict[str, Any]:
    return {
        "id": str(tweet_id),
        "text": text,
        "author_id": author_id,
        "created_at": created_at,
        "lang": "en",
        "conversation_id": str(tweet_id),
        "edit_history_tweet_ids": [str(tweet_id)],
        "public_metrics": {
            "retweet_count": 2,
            "reply_count": 1,
            "like_count": 5,
            "quote_count": 0,
            "bookmark_count": 0,
            "impression_count": 310,
        },
    }


def search_page(tweets: list[dict[str, Any]], next_token: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"result_count": len(tweets)}
    if tweets:
        meta["newest_id"], meta["oldest_id"] = tweets[0]["id"], tweets[-1]["id"]
    if next_token:
        meta["next_token"] = next_token
    return {"data": tweets, "meta": meta} if tweets else {"meta": meta}


def rate_headers(remaining: int, limit: int = 450) -> dict[str, str]:
    return {
        "x-rate-limit-limit": str(limit),
        "x-rate-limit-remaining": str(remaining),
        "x-rate-limit-reset": str(RESET_EPOCH),
    }
