/* wa_send_step.h - the send decision, pure: what a sender does next with one command, given
 * the claim, the provider's verdict, the attempt, whether the provider was forced and whether
 * the 24h window is open. Both senders are I/O around it (wa_send_drive in wa_send.h); this is
 * the one home of "release, reclaim, fail over or conclude" (docs/architecture.md §4). */
#ifndef WA_SEND_STEP_H
#define WA_SEND_STEP_H

#include <stdint.h>

/* The row as the claim found it (wa_send_claim). */
enum wa_claim {
    WA_CLAIM_NONE,     /* not claimed yet in this round */
    WA_CLAIM_OK,       /* queued -> sending: call the provider */
    WA_CLAIM_INFLIGHT, /* already "sending": an earlier attempt ended mid-call */
    WA_CLAIM_MOVED,    /* queued for the other provider (a failover) */
    WA_CLAIM_DONE,     /* sent, failed, or further along: nothing to do */
    WA_CLAIM_MISSING,  /* no such message in the CRM */
    WA_CLAIM_REFUSED,  /* the CRM refused the claim for good (a constraint, a trigger) */
    WA_CLAIM_RETRY,    /* the CRM is not reachable */
};

/* What one provider call says, as each sender's pure classifier reads the answer. */
enum wa_verdict {
    WA_VERDICT_NONE,    /* not called yet in this round */
    WA_VERDICT_SENT,    /* the provider has the message */
    WA_VERDICT_RETRY,   /* provably not taken (429, 5xx, nothing left): the same again later */
    WA_VERDICT_DOWN,    /* provably not taken because the provider is down: may fail over */
    WA_VERDICT_UNKNOWN, /* the request left and no clear answer came: it may have been sent */
    WA_VERDICT_FAILED,  /* a permanent refusal: never repeat it */
};

struct wa_outcome {
    enum wa_verdict verdict;
    /* The provider says an earlier attempt with this key may have reached it (it was in flight
     * when the provider side stopped): from now on the message is never failed over. */
    int earlier_unknown;
    int64_t retry_after_ms; /* the provider's Retry-After, or 0 */
    char id[320];           /* the provider's message id when sent */
    char code[32];          /* the provider's error code, or ours */
    char text[512];         /* the provider's message, or ours */
};

/* What a provider allows, fixed per sender. */
struct wa_send_policy {
    /* The provider dedupes on our key, so asking again after an unclear end is safe (the
     * bridge); otherwise an unclear end is never repeated blind (Twilio). */
    int dedupes;
    /* The provider's list of sent messages can settle an unknown verdict (Twilio). */
    int reconciles;
    /* A provably unsent message may move to the other provider (Baileys -> Twilio). */
    int fails_over;
};

/* One command's progress; the caller fills the inputs after each step's I/O. */
struct wa_send_state {
    enum wa_claim claim;     /* the last claim's result, NONE before a (re)claim */
    enum wa_verdict verdict; /* the last call's verdict, NONE before a call */
    int earlier_unknown;     /* from the last outcome */
    int attempt;             /* provider calls so far, this one included (from the claim) */
    int max_attempts;
    int forced;      /* the provider was forced (request or WHATSAPP_PROVIDER): never moved */
    int window_open; /* the contact's window with the failover number is open now */
    int can_hold;    /* re-engagement is on: free text the failover number may not carry is held */
    int running;     /* the process is not stopping */
    /* With an INFLIGHT claim: the earlier attempt claimed the row so long ago that its owner, had
     * it lived, would have ended by now (a call, a reconciling look-up, their timeouts). */
    int inflight_settled;
    /* Set by the steps themselves: */
    int unknown;    /* an attempt may have reached the provider: never fail over, never release */
    int reconciled; /* the unknown verdict was already checked against the provider's list */
    int released;   /* the row is back to queued in this round */
    int paused;     /* a backoff pause has passed since the last call */
};

enum wa_send_step {
    WA_STEP_CLAIM,         /* queued -> sending (wa_send_claim), then fill claim */
    WA_STEP_RECLAIM,       /* sending -> sending again (same key), then fill claim OK/RETRY */
    WA_STEP_CALL,          /* pace, call the provider, fill verdict and earlier_unknown */
    WA_STEP_RECONCILE,     /* ask the provider's list; fill verdict SENT, RETRY or UNKNOWN */
    WA_STEP_WAIT,          /* an earlier attempt may still be under way: wait until it must
                              have ended, then claim again */
    WA_STEP_RELEASE,       /* sending -> queued: provably not taken (on failure: stop, later) */
    WA_STEP_BACKOFF,       /* pause per the retry schedule, then decide again */
    WA_STEP_SENT,          /* conclude "sent" */
    WA_STEP_FAILED,        /* conclude "failed" with the provider's refusal */
    WA_STEP_UNKNOWN,       /* conclude "unknown": it may have been sent, and is not repeated */
    WA_STEP_GIVE_UP,       /* attempts exhausted, provably never taken: "failed", retryable */
    WA_STEP_FAIL_OVER,     /* move the row to the other provider and hand the command over */
    WA_STEP_HAND_OVER,     /* the row moved already: hand the command over again */
    WA_STEP_OUT_OF_WINDOW, /* down, and the other provider may not send free-form: "failed" */
    WA_STEP_HOLD,          /* down, no window there: held for the other provider until the
                              contact writes to it (re-engagement) */
    WA_STEP_SKIP,          /* already handled elsewhere: nothing to do */
    WA_STEP_MISSING,       /* no such message: wa.error, the offset moves on */
    WA_STEP_LATER,         /* not ours to finish now (CRM away, stopping): the command again */
};

/* The next step for st under p; updates st's own flags (unknown, reconciled, released, and
 * clears claim/verdict when a new round starts). Pure. */
enum wa_send_step wa_send_next(const struct wa_send_policy *p, struct wa_send_state *st);

/* The step's name, for logs and tests. */
const char *wa_send_step_name(enum wa_send_step s);

#endif
