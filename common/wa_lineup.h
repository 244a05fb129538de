/* wa_lineup.h - the commands a sender holds, in the order polled: which may start now (a
 * contact's oldest one not ended), and how far each partition's offset may move (past the run of
 * its records that ended done, from its oldest on); pure.
 *
 * Records are added as polled (offset order within a partition). A record waits while an
 * earlier record of its key (same partition, same key: one contact) has not ended; otherwise it
 * is ready, and the oldest ready record is taken first. A record that ends done lets the next of
 * its key go; one that ends not done (to be read again: a stop, a revoke) drops its partition's
 * records not yet taken, and those added after it, as a revoke does: the offset never moves past
 * it, so all of them are read again. */
#ifndef WA_LINEUP_H
#define WA_LINEUP_H

#include <stddef.h>
#include <stdint.h>

#define WA_LINEUP_MAX 2048   /* records held at once: polled and not yet past the stored offset */
#define WA_LINEUP_PARTS 4096 /* partitions 0..WA_LINEUP_PARTS-1 */
#define WA_LINEUP_BUCKETS 1024

enum wa_lineup_state {
    WA_LINEUP_FREE,
    WA_LINEUP_WAITING, /* behind an earlier record of its key */
    WA_LINEUP_READY,
    WA_LINEUP_TAKEN,
    WA_LINEUP_ENDED,
    WA_LINEUP_DROPPED /* never to run here: its partition was revoked, or its key stopped */
};

struct wa_lineup_rec {
    int64_t offset;
    int32_t partition;
    enum wa_lineup_state state;
    int done;
    const void *key; /* the caller's, valid until the record ends */
    size_t key_len;
    int next_key;  /* the next record of its key, -1 */
    int next_part; /* the next record of its partition, -1 */
    int next;      /* in the ready queue, or in the free list */
    int next_tail; /* in its hash bucket, while it is the last record of its key */
    uint32_t hash;
};

struct wa_lineup {
    struct wa_lineup_rec r[WA_LINEUP_MAX];
    int free_head, ready_head, ready_tail;
    int held, taken; /* records held; taken and not ended */
    int ready;       /* records ready (none of their key before them), not yet taken */
    int buckets[WA_LINEUP_BUCKETS];
    struct {
        int head, tail, taken, dropping;
    } part[WA_LINEUP_PARTS];
};

void wa_lineup_init(struct wa_lineup *q);

/* Adds the next record polled: its slot, or -1 when WA_LINEUP_MAX are held, or -2 when the
 * partition is out of range. */
int wa_lineup_add(struct wa_lineup *q, int32_t partition, int64_t offset, const void *key,
                  size_t key_len);

/* Takes the oldest ready record: its slot, or -1 when none is ready. */
int wa_lineup_take(struct wa_lineup *q);

/* The taken record in slot has ended; done: its effect is durable (its offset may be passed).
 * Returns 1 and fills *partition and *next_offset when that partition's offset to store moved
 * (the offset after its last record of the run that ended done), else 0. Slots of records the
 * offset passed are free again. */
int wa_lineup_end(struct wa_lineup *q, int slot, int done, int32_t *partition,
                  int64_t *next_offset);

/* The taken record in slot is to run again (its result could not be made durable after it was
 * handed back): it is the next one taken. On a partition being dropped it is dropped instead
 * (its next owner reads it again). */
void wa_lineup_again(struct wa_lineup *q, int slot);

/* For a revoke: drops the partition's records that are not taken (they are read again by the
 * partition's next owner); returns how many of its records are taken and not ended. */
int wa_lineup_drop(struct wa_lineup *q, int32_t partition);

/* Once wa_lineup_drop() returns 0 for it: frees every slot of the partition, writing the slots
 * freed into slots[] (room for WA_LINEUP_MAX); returns how many. */
int wa_lineup_forget(struct wa_lineup *q, int32_t partition, int *slots);

/* Non-zero while the partition's records are dropped (after wa_lineup_drop or a record that ended
 * not done, until wa_lineup_forget): a record of it that should be tried again ends instead, and
 * records added to it are dropped at once. */
int wa_lineup_dropping(const struct wa_lineup *q, int32_t partition);

#endif
