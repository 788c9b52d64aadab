/*  monitor_lpm - see monitor_lpm.h */
#include "monitor_lpm.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t family;             //  0: empty slot
    uint8_t length;
    uint8_t bytes [16];
    uint64_t value;
} s_slot_t;

struct _monitor_lpm_t {
    s_slot_t *slots;
    size_t capacity;            //  power of two
    size_t size;
    uint8_t present [2] [129];  //  [family 4 / 6] [length]: any prefix of it
    //  IPv4 addresses far from every prefix are answered from 8 KiB: the
    //  first 16 bits of every prefix of length 16 or more (valid while no
    //  shorter IPv4 prefix exists)
    uint64_t top16 [1024];
    bool short_v4;
    int16_t order [2] [130];    //  present lengths, longest first, -1 ended
};

static size_t
s_hash (uint8_t family, uint8_t length, const uint8_t *bytes)
{
    //  FNV-1a over the significant bytes, family and length
    uint64_t hash = 1469598103934665603ULL ^ (uint64_t) (family * 131 + length);
    size_t count = (size_t) (length + 7) / 8;
    for (size_t i = 0; i < count; i++) {
        hash ^= bytes [i];
        hash *= 1099511628211ULL;
    }
    return (size_t) (hash ^ (hash >> 29));
}

static void
s_mask (const uint8_t *in, int length, uint8_t *out)
{
    memset (out, 0, 16);
    int whole = length / 8;
    memcpy (out, in, (size_t) whole);
    if (length % 8)
        out [whole] = in [whole] & (uint8_t) (0xFF00 >> (length % 8));
}

static void
s_reorder (monitor_lpm_t *self)
{
    for (int f = 0; f < 2; f++) {
        int n = 0;
        for (int length = 128; length >= 0; length--)
            if (self->present [f] [length])
                self->order [f] [n++] = (int16_t) length;
        self->order [f] [n] = -1;
    }
}

static s_slot_t *
s_find (s_slot_t *slots, size_t capacity, uint8_t family, uint8_t length, const uint8_t *bytes)
{
    size_t at = s_hash (family, length, bytes) & (capacity - 1);
    while (slots [at].family) {
        if (slots [at].family == family && slots [at].length == length
        &&  memcmp (slots [at].bytes, bytes, 16) == 0)
            return &slots [at];
        at = (at + 1) & (capacity - 1);
    }
    return &slots [at];
}

static int
s_grow (monitor_lpm_t *self)
{
    size_t capacity = self->capacity? self->capacity * 2: 1024;
    s_slot_t *slots = (s_slot_t *) calloc (capacity, sizeof (s_slot_t));
    if (!slots)
        return -1;
    for (size_t i = 0; i < self->capacity; i++)
        if (self->slots [i].family) {
            s_slot_t *slot = s_find (slots, capacity, self->slots [i].family,
                                     self->slots [i].length, self->slots [i].bytes);
            *slot = self->slots [i];
        }
    free (self->slots);
    self->slots = slots;
    self->capacity = capacity;
    return 0;
}

monitor_lpm_t *
monitor_lpm_new (void)
{
    monitor_lpm_t *self = (monitor_lpm_t *) calloc (1, sizeof (monitor_lpm_t));
    if (self && s_grow (self)) {
        free (self);
        return NULL;
    }
    if (self)
        s_reorder (self);
    return self;
}

void
monitor_lpm_destroy (monitor_lpm_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->slots);
        free (*self_p);
        *self_p = NULL;
    }
}

int
monitor_lpm_insert (monitor_lpm_t *self, const char *prefix, uint64_t value)
{
    monitor_addr_t addr;
    int length;
    if (value == 0 || monitor_prefix_parse (prefix, &addr, &length))
        return -1;
    if ((self->size + 1) * 2 > self->capacity && s_grow (self))
        return -1;
    s_slot_t *slot = s_find (self->slots, self->capacity, addr.family, (uint8_t) length,
                             addr.bytes);
    if (!slot->family) {
        slot->family = addr.family;
        slot->length = (uint8_t) length;
        memcpy (slot->bytes, addr.bytes, 16);
        self->size++;
    }
    slot->value = value;
    int f = addr.family == 4? 0: 1;
    if (f == 0) {
        if (length < 16)
            self->short_v4 = true;
        else {
            unsigned top = (unsigned) addr.bytes [0] << 8 | addr.bytes [1];
            self->top16 [top / 64] |= 1ULL << (top % 64);
        }
    }
    if (!self->present [f] [length]) {
        self->present [f] [length] = 1;
        s_reorder (self);
    }
    return 0;
}

void
monitor_lpm_clear (monitor_lpm_t *self)
{
    memset (self->slots, 0, self->capacity * sizeof (s_slot_t));
    memset (self->present, 0, sizeof self->present);
    memset (self->top16, 0, sizeof self->top16);
    self->short_v4 = false;
    self->size = 0;
    s_reorder (self);
}

uint64_t
monitor_lpm_lookup (const monitor_lpm_t *self, const monitor_addr_t *addr, int *length)
{
    if (addr->family != 4 && addr->family != 6)
        return 0;
    int f = addr->family == 4? 0: 1;
    if (f == 0 && !self->short_v4) {
        unsigned top = (unsigned) addr->bytes [0] << 8 | addr->bytes [1];
        if (!(self->top16 [top / 64] & (1ULL << (top % 64))))
            return 0;
    }
    uint8_t masked [16];
    for (const int16_t *l = self->order [f]; *l >= 0; l++) {
        s_mask (addr->bytes, *l, masked);
        const s_slot_t *slot = s_find (self->slots, self->capacity, addr->family,
                                       (uint8_t) *l, masked);
        if (slot->family) {
            if (length)
                *length = *l;
            return slot->value;
        }
    }
    return 0;
}

size_t
monitor_lpm_size (const monitor_lpm_t *self)
{
    return self->size;
}

void
monitor_lpm_test (bool verbose)
{
    printf (" * monitor_lpm: ");
    monitor_lpm_t *lpm = monitor_lpm_new ();
    assert (lpm);
    assert (monitor_lpm_insert (lpm, "10.0.0.0/8", 1) == 0);
    assert (monitor_lpm_insert (lpm, "10.1.2.0/24", 2) == 0);
    assert (monitor_lpm_insert (lpm, "10.1.2.16/28", 3) == 0);
    assert (monitor_lpm_insert (lpm, "2001:db8::/32", 4) == 0);
    assert (monitor_lpm_insert (lpm, "2001:db8:1::/48", 5) == 0);
    assert (monitor_lpm_insert (lpm, "10.1.2.17/28", 9) == -1);     //  host bits
    assert (monitor_lpm_insert (lpm, "nonsense", 9) == -1);
    monitor_addr_t a;
    int length = 0;
    assert (monitor_addr_parse ("10.1.2.20", &a) == 0);
    assert (monitor_lpm_lookup (lpm, &a, &length) == 3 && length == 28);
    assert (monitor_addr_parse ("10.1.2.200", &a) == 0);
    assert (monitor_lpm_lookup (lpm, &a, &length) == 2 && length == 24);
    assert (monitor_addr_parse ("10.9.9.9", &a) == 0);
    assert (monitor_lpm_lookup (lpm, &a, NULL) == 1);
    assert (monitor_addr_parse ("11.0.0.1", &a) == 0);
    assert (monitor_lpm_lookup (lpm, &a, NULL) == 0);
    assert (monitor_addr_parse ("2001:db8:1:2::1", &a) == 0);
    assert (monitor_lpm_lookup (lpm, &a, NULL) == 5);
    assert (monitor_addr_parse ("2001:db8:2::1", &a) == 0);
    assert (monitor_lpm_lookup (lpm, &a, NULL) == 4);
    //  Many prefixes: growth keeps every one
    char text [32];
    for (int i = 0; i < 20000; i++) {
        snprintf (text, sizeof text, "100.%d.%d.0/24", i / 256, i % 256);
        assert (monitor_lpm_insert (lpm, text, (uint64_t) i + 100) == 0);
    }
    assert (monitor_lpm_size (lpm) == 20005);
    assert (monitor_addr_parse ("100.78.31.7", &a) == 0);
    assert (monitor_lpm_lookup (lpm, &a, NULL) == 78 * 256 + 31 + 100);
    monitor_lpm_clear (lpm);
    assert (monitor_lpm_lookup (lpm, &a, NULL) == 0);
    monitor_lpm_destroy (&lpm);
    assert (lpm == NULL);
    if (verbose)
        printf ("(20005 prefixes) ");
    printf ("OK\n");
}
