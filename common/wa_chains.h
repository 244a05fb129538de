/* wa_chains.h - a batch of Kafka records as chains, one per key, each in offset order; pure. */
#ifndef WA_CHAINS_H
#define WA_CHAINS_H

#include <stddef.h>
#include <stdint.h>

#define WA_CHAINS_MAX 256 /* records in one batch */

/* One contact's records (same partition, same key) form a chain, run one after the other;
 * different chains may run at the same time. Records are added in the order polled, which is
 * offset order within a partition. */
struct wa_chains {
    int n, nchains;
    int next[WA_CHAINS_MAX];  /* by record: the next of its chain, -1 at the end */
    int heads[WA_CHAINS_MAX]; /* by chain: its first record (longest chains first, once ordered) */
    int lens[WA_CHAINS_MAX];  /* by chain: its length */
    int tails[WA_CHAINS_MAX]; /* by chain, in the order found: its last record */
    struct {
        int32_t partition;
        const void *key;
        size_t key_len;
    } ids[WA_CHAINS_MAX]; /* by chain, in the order found; key is the caller's, not copied */
};

void wa_chains_reset(struct wa_chains *c);

/* Adds the next record (it becomes record c->n - 1): returns 1, or 0 when the batch is full or
 * its chain already holds max_len records (the batch ends before it). */
int wa_chains_add(struct wa_chains *c, int32_t partition, const void *key, size_t key_len,
                  int max_len);

/* Orders heads[] and lens[] longest chain first: a batch lasts as long as its longest chain, so
 * that one starts first. */
void wa_chains_order(struct wa_chains *c);

#endif
