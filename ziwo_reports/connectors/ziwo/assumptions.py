"""What this product assumes about the Ziwo API where public evidence is missing.

This module is the one place for those assumptions: the client, the warehouse and the built-in
simulator all read them from here. Each names the evidence it rests on, using the source keys of
`shared/reference/ziwo-api.md` ("not found" means nothing public confirms it). When a real
instance disagrees, change it here and the simulator follows.
"""

from __future__ import annotations

# --- Dates and paging -----------------------------------------------------------------------

#: `fromDate`/`toDate` of `GET /callHistory/` are plain `YYYY-MM-DD` dates, both inclusive, read in
#: the instance's time zone; a record belongs to the day of its `startedAt`. Timezone and
#: inclusivity: not found. The client pulls one day per request (`fromDate == toDate`), so every
#: record belongs to exactly one chunk whatever the server's zone is.
DATE_PARAMS_ARE_INSTANCE_LOCAL = True

#: `order=startedAt` sorts oldest first; `~startedAt` newest first ([REV] uses the `~` form;
#: the ascending form is inferred). Oldest-first keeps offsets stable while new calls arrive at
#: the end of today's list. Correctness does not depend on it: the client detects shifted
#: offsets either way.
ORDER_ASCENDING = "startedAt"
ORDER_DESCENDING = "~startedAt"

#: A list page may say how many records the whole listing holds, as `info.totalRecords` (the key of
#: the official SDK's `/agents/channels/calls/` [AND]; for `/callHistory/` not observed). When it is
#: there, a day's listing is complete only once the distinct records read reach it; without it the
#: client verifies by other means (a proven page size, no shifted offsets).
TOTAL_RECORDS_KEY = "totalRecords"

#: `GET <list>/count` answers a reference list's length in `content` (`/admin/agents/count` and
#: `/admin/queues/count` [PY-ADM]); other lists may have none (404). The client reads it only to
#: cross-check a list whose server ignored `skip`.
COUNT_SUFFIX = "count"

#: Largest `limit` the simulator serves; a larger request gets this many records. Ziwo's maximum:
#: not found (clients use 100 [REV] and 1000 [CTX]). The client detects a cap by itself.
SIMULATOR_MAX_PAGE_SIZE = 1000

# --- Call records ----------------------------------------------------------------------------

#: `direction` values ([CORE ZiwoEventDetails][MGR]).
DIRECTIONS = ("inbound", "outbound", "internal", "service")

#: `result` values and their meaning. Only "cancel" was seen [TPH]; the others follow the
#: FreeSWITCH-style call results one third party expects ([ZiwoIntegration webhook]).
RESULTS = {
    "answered": "the leg's party answered (the agent for inbound legs, the customer for outbound)",
    "timeout": "the leg rang and nobody answered in time (an agent missed an inbound call)",
    "cancel": "the caller hung up before an answer: in the IVR, in the queue or while ringing",
    "busy": "the called party was busy (outbound)",
    "failed": "the call could not be set up (outbound)",
}

#: Who ended a leg that rang an agent and was never answered, which decides whether the agent missed
#: it or the caller abandoned it while it rang (docs/metrics.md, `calls_missed` and
#: `abandoned_while_ringing`). The caller abandoned it when `result` is CALLER_ABANDON_RESULT
#: ("cancel": the caller hung up first), unless `hangupBy` is "agent" or `hangupCause` is one of
#: AGENT_REJECT_CAUSES (the agent's phone turned the call down). Everything else is the agent's:
#: the ring timed out (`result` "timeout", cause NO_ANSWER), the agent rejected it, or the record
#: says nothing clear. Ziwo's `result` for a rejected ring: not found. The causes are FreeSWITCH's
#: (Ziwo runs on FreeSWITCH [VERTO]): CALL_REJECTED for a declined call, USER_BUSY for a busy or
#: do-not-disturb phone.
CALLER_ABANDON_RESULT = "cancel"
AGENT_REJECT_CAUSES = ("CALL_REJECTED", "USER_BUSY")

#: `hangupCause` values: FreeSWITCH hangup causes (Ziwo runs on FreeSWITCH/Verto [VERTO]).
#: A leg the agent transferred onward ends with one of TRANSFER_CAUSES.
HANGUP_CAUSES = (
    "NORMAL_CLEARING",
    "ORIGINATOR_CANCEL",
    "NO_ANSWER",
    "USER_BUSY",
    "CALL_REJECTED",
    "NORMAL_TEMPORARY_FAILURE",
    "ATTENDED_TRANSFER",
    "BLIND_TRANSFER",
)
TRANSFER_CAUSES = ("ATTENDED_TRANSFER", "BLIND_TRANSFER")

#: `hangupBy` values.
HANGUP_BY = ("customer", "agent", "system")

#: One record per leg. The first leg of a contact has `primaryCallID` null; every later leg
#: (a ring that went back to the queue, a transfer) carries the first leg's `callID` there.
#: `primaryCallID` appears only in [CORE] event details; its use in `/callHistory/` is inferred.
FIRST_LEG_PRIMARY_CALL_ID_IS_NULL = True

#: `callerIDNumber` is always the customer's number, inbound and outbound; `didCalled` is the
#: instance's number (dialled by the customer, or shown to the customer). The evidence is
#: ambiguous for outbound calls ([ZiwoIntegration webhook] swaps them by direction).
CUSTOMER_NUMBER_FIELD = "callerIDNumber"

#: Caller numbers that mean "withheld". Not found; these are the common carrier spellings.
ANONYMOUS_NUMBERS = ("", "anonymous", "unknown", "withheld", "private", "restricted", "unavailable")

#: Per-call after-call work in seconds. Ziwo has no per-call ACW field, only the agent's
#: configured `wrapUpTime` [AND][CORE]; we read a call-level `wrapUpTime` when present and fall
#: back to the agent's setting.
CALL_WRAP_UP_FIELD = "wrapUpTime"

#: Post-call survey score, 1 to 5, on the last leg of a contact whose queue has
#: `surveyRequired` (a confirmed queue field [AND][CORE]). The field name: not found.
SURVEY_SCORE_FIELD = "surveyScore"
SURVEY_SCALE = (1, 5)

#: With `dataset=tags`, each record has `tags`: a list of tag names. The shape: not found; the
#: client also accepts a list of `{"name": ...}` objects.
TAGS_FIELD = "tags"

#: Timestamps (`*At`) are ISO 8601 UTC with a `Z` suffix [REV][TPH]. One without an offset is
#: read as UTC. Durations are integer seconds (inferred from [MGR]).
NAIVE_TIMESTAMPS_ARE_UTC = True

# --- Agents and teams ------------------------------------------------------------------------

#: Team membership. Nothing public shows teams in the API; we assume `GET /admin/agents/` records
#: carry `teamId` and `teamName` (null when the agent has no team).
TEAM_ID_FIELD = "teamId"
TEAM_NAME_FIELD = "teamName"

#: `GET /admin/agents/` lists agents that left too, with `deletedAt` set, so calls they took stay
#: attributable; `GET /callHistory/listAgents?deleted=false` leaves them out [TPH]. Queues carry
#: `deletedAt` [AND], agents are assumed to follow suit.
ADMIN_AGENTS_INCLUDE_DELETED = True
