/* wa_chains.c - a batch of Kafka records as chains, one per key; pure. */
#include "wa_chains.h"

#include <string.h>

void wa_chains_reset(struct wa_chains *c)
{
    c->n = c->nchains = 0;
}

static int find(const struct wa_chains *c, int32_t partition, const void *key, size_t key_len)
{
    for (int k = 0; k < c->nchains; k++)
        if (c->ids[k].partition == partition && c->ids[k].key_len == key_len &&
            (key_len == 0 || memcmp(c->ids[k].key, key, key_len) == 0))
            return k;
    return -1;
}

int wa_chains_add(struct wa_chains *c, int32_t partition, const void *key, size_t key_len,
                  int max_len)
{
    if (c->n == WA_CHAINS_MAX) return 0;
    int k = find(c, partition, key, key_len);
    if (k >= 0 && c->lens[k] >= max_len) return 0;
    int i = c->n++;
    c->next[i] = -1;
    if (k < 0) {
        k = c->nchains++;
        c->ids[k].partition = partition;
        c->ids[k].key = key;
        c->ids[k].key_len = key_len;
        c->heads[k] = i;
        c->lens[k] = 0;
    } else {
        c->next[c->tails[k]] = i;
    }
    c->tails[k] = i;
    c->lens[k]++;
    return 1;
}

void wa_chains_order(struct wa_chains *c)
{
    /* Insertion sort, stable: equal lengths keep the order found. ids[] and tails[] are not
     * needed any more and stay as found. */
    for (int k = 1; k < c->nchains; k++)
        for (int j = k; j > 0 && c->lens[j] > c->lens[j - 1]; j--) {
            int h = c->heads[j], len = c->lens[j];
            c->heads[j] = c->heads[j - 1];
            c->lens[j] = c->lens[j - 1];
            c->heads[j - 1] = h;
            c->lens[j - 1] = len;
        }
}
