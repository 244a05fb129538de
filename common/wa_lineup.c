/* wa_lineup.c - the commands a sender holds: readiness per key, offsets per partition; pure.
 * Written here because it is the sender's own ordering rule (one contact's commands one after
 * the other, the offset never past a command not done); no library holds it. */
#include "wa_lineup.h"

#include <string.h>

static uint32_t hash_of(int32_t partition, const void *key, size_t key_len)
{
    /* FNV-1a over the key, then the partition. */
    uint32_t h = 2166136261u;
    const unsigned char *k = key;
    for (size_t i = 0; i < key_len; i++)
        h = (h ^ k[i]) * 16777619u;
    return (h ^ (uint32_t)partition) * 16777619u;
}

void wa_lineup_init(struct wa_lineup *q)
{
    memset(q, 0, sizeof *q);
    for (int i = 0; i < WA_LINEUP_MAX; i++) {
        q->r[i].state = WA_LINEUP_FREE;
        q->r[i].next = i + 1 < WA_LINEUP_MAX ? i + 1 : -1;
    }
    q->free_head = 0;
    q->ready_head = q->ready_tail = -1;
    for (int b = 0; b < WA_LINEUP_BUCKETS; b++)
        q->buckets[b] = -1;
    for (int p = 0; p < WA_LINEUP_PARTS; p++)
        q->part[p].head = q->part[p].tail = -1;
}

static int *bucket(struct wa_lineup *q, uint32_t hash)
{
    return &q->buckets[hash % WA_LINEUP_BUCKETS];
}

/* The last record of the key, when one is held and not ended. */
static int find_tail(struct wa_lineup *q, int32_t partition, const void *key, size_t key_len,
                     uint32_t hash)
{
    for (int s = *bucket(q, hash); s >= 0; s = q->r[s].next_tail) {
        const struct wa_lineup_rec *r = &q->r[s];
        if (r->hash == hash && r->partition == partition && r->key_len == key_len &&
            (key_len == 0 || memcmp(r->key, key, key_len) == 0))
            return s;
    }
    return -1;
}

static void tail_remove(struct wa_lineup *q, int slot)
{
    for (int *at = bucket(q, q->r[slot].hash); *at >= 0; at = &q->r[*at].next_tail)
        if (*at == slot) {
            *at = q->r[slot].next_tail;
            return;
        }
}

static void ready_push(struct wa_lineup *q, int slot)
{
    q->r[slot].state = WA_LINEUP_READY;
    q->ready++;
    q->r[slot].next = -1;
    if (q->ready_tail >= 0)
        q->r[q->ready_tail].next = slot;
    else
        q->ready_head = slot;
    q->ready_tail = slot;
}

/* Never to run here: its partition's next owner reads it again. Out of its key's hash when it
 * was the key's last. */
static void drop_rec(struct wa_lineup *q, int slot)
{
    struct wa_lineup_rec *r = &q->r[slot];
    if (r->next_key < 0) tail_remove(q, slot);
    if (r->state == WA_LINEUP_READY) q->ready--;
    r->state = WA_LINEUP_DROPPED;
    r->key = NULL;
}

int wa_lineup_add(struct wa_lineup *q, int32_t partition, int64_t offset, const void *key,
                  size_t key_len)
{
    if (partition < 0 || partition >= WA_LINEUP_PARTS) return -2;
    if (q->free_head < 0) return -1;
    int s = q->free_head;
    struct wa_lineup_rec *r = &q->r[s];
    q->free_head = r->next;
    q->held++;
    r->offset = offset;
    r->partition = partition;
    r->done = 0;
    r->key = key;
    r->key_len = key_len;
    r->hash = hash_of(partition, key, key_len);
    r->next_key = r->next_part = r->next = -1;
    if (q->part[partition].tail >= 0)
        q->r[q->part[partition].tail].next_part = s;
    else
        q->part[partition].head = s;
    q->part[partition].tail = s;
    if (q->part[partition].dropping) {
        r->next_tail = -1;
        drop_rec(q, s);
        return s;
    }
    int t = find_tail(q, partition, key, key_len, r->hash);
    if (t >= 0) { /* behind its key's last record, which it replaces as the last */
        tail_remove(q, t);
        q->r[t].next_key = s;
        r->state = WA_LINEUP_WAITING;
    } else {
        ready_push(q, s);
    }
    r->next_tail = *bucket(q, r->hash);
    *bucket(q, r->hash) = s;
    return s;
}

int wa_lineup_take(struct wa_lineup *q)
{
    int s = q->ready_head;
    if (s < 0) return -1;
    q->ready_head = q->r[s].next;
    if (q->ready_head < 0) q->ready_tail = -1;
    q->r[s].state = WA_LINEUP_TAKEN;
    q->ready--;
    q->r[s].next = -1;
    q->part[q->r[s].partition].taken++;
    q->taken++;
    return s;
}

static void release(struct wa_lineup *q, int slot)
{
    q->r[slot].state = WA_LINEUP_FREE;
    q->r[slot].key = NULL;
    q->r[slot].next = q->free_head;
    q->free_head = slot;
    q->held--;
}

int wa_lineup_end(struct wa_lineup *q, int slot, int done, int32_t *partition, int64_t *next_offset)
{
    struct wa_lineup_rec *r = &q->r[slot];
    int32_t p = r->partition;
    r->state = WA_LINEUP_ENDED;
    r->done = done;
    q->part[p].taken--;
    q->taken--;
    if (r->next_key < 0)
        tail_remove(q, slot);
    else if (done && q->r[r->next_key].state == WA_LINEUP_WAITING)
        ready_push(q, r->next_key);
    r->key = NULL;
    /* Read again later: its partition's offset stays before it, so the records after it are
     * read again too; none of them starts here (its key's would overtake it). */
    if (!done) wa_lineup_drop(q, p);
    int moved = 0;
    int h = q->part[p].head;
    while (h >= 0 && q->r[h].state == WA_LINEUP_ENDED && q->r[h].done) {
        *next_offset = q->r[h].offset + 1;
        moved = 1;
        int after = q->r[h].next_part;
        release(q, h);
        h = after;
    }
    q->part[p].head = h;
    if (h < 0) q->part[p].tail = -1;
    if (moved) *partition = p;
    return moved;
}

void wa_lineup_again(struct wa_lineup *q, int slot)
{
    struct wa_lineup_rec *r = &q->r[slot];
    q->part[r->partition].taken--;
    q->taken--;
    if (q->part[r->partition].dropping) {
        drop_rec(q, slot);
        return;
    }
    r->state = WA_LINEUP_READY;
    q->ready++;
    r->next = q->ready_head;
    q->ready_head = slot;
    if (q->ready_tail < 0) q->ready_tail = slot;
}

int wa_lineup_drop(struct wa_lineup *q, int32_t partition)
{
    if (partition < 0 || partition >= WA_LINEUP_PARTS) return 0;
    q->part[partition].dropping = 1;
    for (int s = q->part[partition].head; s >= 0; s = q->r[s].next_part) {
        struct wa_lineup_rec *r = &q->r[s];
        if (r->state == WA_LINEUP_WAITING || r->state == WA_LINEUP_READY) drop_rec(q, s);
    }
    /* The ready queue without them. */
    int head = -1, tail = -1;
    for (int s = q->ready_head, next; s >= 0; s = next) {
        next = q->r[s].next;
        if (q->r[s].state != WA_LINEUP_READY) continue;
        q->r[s].next = -1;
        if (tail >= 0)
            q->r[tail].next = s;
        else
            head = s;
        tail = s;
    }
    q->ready_head = head;
    q->ready_tail = tail;
    return q->part[partition].taken;
}

int wa_lineup_forget(struct wa_lineup *q, int32_t partition, int *slots)
{
    if (partition < 0 || partition >= WA_LINEUP_PARTS) return 0;
    int n = 0;
    for (int s = q->part[partition].head, next; s >= 0; s = next) {
        next = q->r[s].next_part;
        release(q, s);
        slots[n++] = s;
    }
    q->part[partition].head = q->part[partition].tail = -1;
    q->part[partition].dropping = 0;
    return n;
}

int wa_lineup_dropping(const struct wa_lineup *q, int32_t partition)
{
    return partition >= 0 && partition < WA_LINEUP_PARTS && q->part[partition].dropping;
}
