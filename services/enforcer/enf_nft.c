/*  enf_nft - table `inet lgwan` in one network namespace, through libnftables.

    What it guarantees:

    1. Nothing malformed reaches the kernel. Every prefix is parsed with
       inet_pton, its length bounded, its host bits checked; a batch is built
       only from prefixes that pass, and a list with one bad prefix builds no
       batch at all.
    2. One version, one transaction. A batch is the text of one
       nft_run_cmd_from_buffer call, which libnftables sends as one netlink
       batch: the kernel applies all of it or none of it. A rebuild adds,
       deletes and adds the table again inside the batch, so the old table is
       replaced atomically whether it existed or not; there is no instant
       without isolation.
    3. A change costs what it changes. An update touches only the elements
       that changed (and creates a length's set and two rules the first time
       the length appears); elements live in per-length hash sets, whose cost
       does not grow with their size. Batches go through a context that never
       lists, so its cache holds tables and sets but no elements: a listing
       would make every later batch fetch every element first.
    4. Nothing is claimed that was not read back. enf_nft_verify lists the
       table as JSON through a second context and counts a prefix as in force
       only when its set exists and the chain drops both directions for its
       length with no rule of someone else's in front that could accept
       first (a verdict, a vmap through a named map, an offload to a
       flowtable), nor an offload to a flowtable in a base chain on forward
       ahead of ours (s_may_bypass, s_offloads). Anything else in the table
       (foreign rules, chains, sets, flags, elements with host bits, a
       changed policy) makes the table inexact, and a reconcile rebuilds it;
       so does a listing that does not parse, which claims nothing. The
       table's flags are asked of the kernel (NFT_MSG_GETTABLE), because
       libnftables 1.0.6 writes them into the JSON from freed memory; a dormant table drops nothing, so nothing of
       it counts as in force. A full listing costs time in proportion to
       the table (about 80 ms at 10,000 prefixes), so after an update
       enf_nft_confirm asks the kernel about the changed elements only: one
       NFT_MSG_GETSETELEM per set for the added ones (each must be there) and
       one per removed element (each must be gone), on a netlink socket of
       its own opened in the namespace. libnftables cannot do this cheaply:
       its `get element` loads every element of the set first.
    5. Namespace. The contexts are created inside the namespace (setns to it,
       nft_ctx_new, setns back), and libnftables opens its netlink socket in
       nft_ctx_new, so they act there for their whole life while the thread
       and the process stay in their own namespace. This must happen while
       the process has one thread: setns moves only the calling thread.
    6. Permission. EPERM from the kernel (no CAP_NET_ADMIN, or not in the
       namespace's owner) is ENF_NFT_DENIED, apart from every other failure,
       so the enforcer can stop loudly instead of pretending. A batch
       refused with EPERM because table inet lgwan carries the owner flag
       (NFT_TABLE_F_OWNER: only the netlink socket that made it may change
       it, and it goes when that socket closes) is ENF_NFT_OWNED instead,
       the owner's netlink port id in why: it was taken for a missing
       capability, and the enforcer stopped saying it needed CAP_NET_ADMIN
       while it had it. The flag is asked of the kernel after the refusal
       (NFT_MSG_GETTABLE, as for point 4), not guessed.
    7. The rest of the table after an update. Asking about a change's
       elements says nothing of the chain, its rules or the table's flags
       (a `nft flush chain`, a foreign accept in front, a dormant table), and
       listing them costs what a listing costs. The kernel counts every
       transaction committed in the namespace (NFT_MSG_GETGEN): a verify
       that finds the table exact remembers the generation it read before
       listing, each batch of ours adds one, and enf_nft_confirm requires
       the generation to be exactly that. Anything else committed since, in
       any table, fails the confirm, and the caller lists the table; so the
       full read-back costs an update only after someone else changed the
       namespace's ruleset, once per such change.
    8. The same namespace for life. The contexts and the probe socket keep
       the namespace they were opened in alive even after `ip netns del`,
       so a gateway whose namespace was deleted and created again under the
       same name (a restart) would see none of our batches, while every
       read-back of ours, made in the old one, agreed with them. new
       remembers the device and inode of /run/netns/<name> as it entered
       it, and enf_nft_netns_same compares them with the name's now: one
       stat, cheap enough before every ack. The enforcer stops when they
       differ, to be started again in the new namespace; setns cannot be
       done again once ZeroMQ's threads run (point 5).
    9. A restart keeps a table that matches. The layout a verify expects is
       the lengths our last batch left; a new object has made none, so until
       its first batch a verify takes the kernel's lengths, as long as the
       layout is one a batch of ours makes (every set with its two rules,
       nothing else), and an exact one seeds them for the updates after.
       Every restart used to rebuild a table that already held the desired
       state, and report nothing, as the lengths it compared with were
       all unset. Only an exact verify seeds them: one that differs gives
       its missing and extra as before, for the caller to rebuild and
       report (the Repaired at start).
*/
#include "enf_nft.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/capability.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#define S_CHAIN             "forward"
#define S_CHAIN_PRIORITY    -10

struct _enf_nft_t {
    struct nft_ctx *writer;         //  batches only: never lists (point 3)
    struct nft_ctx *reader;         //  JSON listings
    int probe;                      //  netlink socket for element queries (point 4)
    uint32_t seq;
    char netns [ENF_NETNS_MAX];
    enf_lengths_t lengths;          //  what our last successful batch left
    bool lengths_known;             //  a batch or an exact listing set them (point 9)
    //  Point 7: the ruleset's generation when a listing last found the
    //  kernel holding exactly our state (known), and how many batches of
    //  ours were committed since (each adds one to the generation)
    bool known;
    uint32_t generation;
    uint32_t batches;
    //  Point 8: /run/netns/<netns> as entered (not "host")
    dev_t netns_dev;
    ino_t netns_ino;
};

static int s_table_flags (enf_nft_t *self, uint32_t *flags, uint32_t *owner);
static int s_generation (enf_nft_t *self, uint32_t *generation);

//  Value stored for every key of a prefix set
static char s_present [] = "1";


//  --------------------------------------------------------------------------
//  Strings and prefix sets

static void *
s_string_dup (const void *item)
{
    return strdup ((const char *) item);
}

static void
s_string_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static int
s_string_compare (const void *a, const void *b)
{
    return strcmp ((const char *) a, (const char *) b);
}

zlistx_t *
enf_strings_new (void)
{
    zlistx_t *list = zlistx_new ();
    if (!list)
        return NULL;
    zlistx_set_duplicator (list, s_string_dup);
    zlistx_set_destructor (list, s_string_free);
    zlistx_set_comparator (list, s_string_compare);
    return list;
}

zhashx_t *
enf_prefix_set_new (void)
{
    //  zhashx's defaults: string keys, duplicated and freed by the hash
    return zhashx_new ();
}


//  --------------------------------------------------------------------------
//  Prefixes

static int
s_max_length (int family)
{
    return family == AF_INET? 32: 128;
}

static void
s_mask (int family, int length, uint8_t mask [16])
{
    memset (mask, 0, 16);
    int bytes = family == AF_INET? 4: 16;
    for (int index = 0; index < bytes; index++) {
        int bits = length - 8 * index;
        mask [index] = bits >= 8? 0xff: bits <= 0? 0: (uint8_t) (0xff << (8 - bits));
    }
}

int
enf_prefix_parse (const char *text, enf_prefix_t *prefix, char *why, size_t why_size)
{
    assert (prefix);
    memset (prefix, 0, sizeof *prefix);
    if (text == NULL || *text == '\0') {
        lg_why (why, why_size, "empty prefix");
        return -1;
    }
    size_t size = strnlen (text, ENF_PREFIX_MAX);
    if (size >= ENF_PREFIX_MAX) {
        lg_why (why, why_size, "prefix \"%.*s...\" is longer than %d bytes",
                ENF_PREFIX_MAX - 1, text, ENF_PREFIX_MAX - 1);
        return -1;
    }
    const char *slash = strchr (text, '/');
    if (!slash || slash == text) {
        lg_why (why, why_size, "prefix \"%s\" is not address/length", text);
        return -1;
    }
    char address [ENF_PREFIX_MAX];
    memcpy (address, text, (size_t) (slash - text));
    address [slash - text] = '\0';

    //  The length: 1 to 3 decimal digits, no sign, no leading zero
    const char *digits = slash + 1;
    size_t count = strlen (digits);
    bool valid = count >= 1 && count <= 3 && digits [0] != '0';
    int length = 0;
    for (size_t index = 0; valid && index < count; index++) {
        if (digits [index] < '0' || digits [index] > '9')
            valid = false;
        else
            length = length * 10 + (digits [index] - '0');
    }
    int family = strchr (address, ':')? AF_INET6: AF_INET;
    if (!valid || length > s_max_length (family)) {
        lg_why (why, why_size, "prefix \"%s\": length must be 1 .. %d",
                text, s_max_length (family));
        return -1;
    }
    if (inet_pton (family, address, prefix->addr) != 1) {
        lg_why (why, why_size, "prefix \"%s\": \"%s\" is not an %s address",
                text, address, family == AF_INET? "IPv4": "IPv6");
        return -1;
    }
    uint8_t mask [16];
    s_mask (family, length, mask);
    for (int index = 0; index < 16; index++)
        if (prefix->addr [index] & (uint8_t) ~mask [index]) {
            lg_why (why, why_size, "prefix \"%s\" has host bits set", text);
            return -1;
        }
    prefix->family = family;
    prefix->length = length;
    return 0;
}

void
enf_prefix_format (const enf_prefix_t *prefix, char *text)
{
    assert (prefix);
    assert (text);
    char address [INET6_ADDRSTRLEN];
    if (!inet_ntop (prefix->family, prefix->addr, address, sizeof address))
        address [0] = '\0';
    snprintf (text, ENF_PREFIX_MAX, "%s/%d", address, prefix->length);
}

int
enf_prefix_canon (const char *text, char *canon, char *why, size_t why_size)
{
    enf_prefix_t prefix;
    if (enf_prefix_parse (text, &prefix, why, why_size))
        return -1;
    enf_prefix_format (&prefix, canon);
    return 0;
}


//  --------------------------------------------------------------------------
//  Batches

//  Set name of a length: v4_24, v6_48
static void
s_set_name (int family, int length, char name [8])
{
    snprintf (name, 8, "v%c_%d", family == AF_INET? '4': '6', length);
}

static bool *
s_length_flag (enf_lengths_t *lengths, int family, int length)
{
    return family == AF_INET? &lengths->v4 [length]: &lengths->v6 [length];
}

//  Prefixes of a list, parsed and sorted by family, length, address
static int
s_prefix_compare (const void *a, const void *b)
{
    const enf_prefix_t *left = (const enf_prefix_t *) a;
    const enf_prefix_t *right = (const enf_prefix_t *) b;
    if (left->family != right->family)
        return left->family == AF_INET? -1: 1;
    if (left->length != right->length)
        return left->length < right->length? -1: 1;
    return memcmp (left->addr, right->addr, sizeof left->addr);
}

static enf_prefix_t *
s_prefixes_sorted (zlistx_t *list, size_t *count_p)
{
    size_t count = list? zlistx_size (list): 0;
    enf_prefix_t *array = (enf_prefix_t *) calloc (count + 1, sizeof *array);
    if (!array)
        return NULL;
    size_t index = 0;
    for (const char *text = list? (const char *) zlistx_first (list): NULL; text;
         text = (const char *) zlistx_next (list)) {
        if (enf_prefix_parse (text, &array [index], NULL, 0)) {
            free (array);
            return NULL;
        }
        index++;
    }
    qsort (array, count, sizeof *array, s_prefix_compare);
    *count_p = count;
    return array;
}

//  The set of a length and its two rules
static void
s_emit_set (FILE *out, int family, int length)
{
    char name [8];
    s_set_name (family, length, name);
    fprintf (out, "add set inet " ENF_TABLE " %s { type %s; }\n",
             name, family == AF_INET? "ipv4_addr": "ipv6_addr");
    char mask_text [INET6_ADDRSTRLEN + 4] = "";
    if (length < s_max_length (family)) {
        uint8_t mask [16];
        char address [INET6_ADDRSTRLEN];
        s_mask (family, length, mask);
        inet_ntop (family, mask, address, sizeof address);
        snprintf (mask_text, sizeof mask_text, "& %s ", address);
    }
    const char *protocol = family == AF_INET? "ip": "ip6";
    fprintf (out, "add rule inet " ENF_TABLE " " S_CHAIN " %s saddr %s@%s drop\n",
             protocol, mask_text, name);
    fprintf (out, "add rule inet " ENF_TABLE " " S_CHAIN " %s daddr %s@%s drop\n",
             protocol, mask_text, name);
}

//  One element command for array [from, to), all of one family and length
static void
s_emit_elements (FILE *out, const char *verb, const enf_prefix_t *array, size_t from, size_t to)
{
    char name [8];
    s_set_name (array [from].family, array [from].length, name);
    fprintf (out, "%s element inet " ENF_TABLE " %s { ", verb, name);
    for (size_t index = from; index < to; index++) {
        char address [INET6_ADDRSTRLEN];
        inet_ntop (array [index].family, array [index].addr, address, sizeof address);
        fprintf (out, "%s%s", index > from? ", ": "", address);
    }
    fprintf (out, " }\n");
}

//  End of the run of array entries with the family and length of array [from]
static size_t
s_run_end (const enf_prefix_t *array, size_t count, size_t from)
{
    size_t to = from + 1;
    while (to < count && array [to].family == array [from].family
                      && array [to].length == array [from].length)
        to++;
    return to;
}

//  Close a memory stream and return its text (which fclose sets), or NULL
//  if writing failed
static char *
s_stream_close (FILE *out, char **text_p)
{
    bool failed = ferror (out) != 0;
    if (fclose (out) != 0)
        failed = true;
    if (failed) {
        free (*text_p);
        *text_p = NULL;
    }
    return *text_p;
}

char *
enf_nft_batch_rebuild (zlistx_t *prefixes, enf_lengths_t *lengths_out)
{
    size_t count = 0;
    enf_prefix_t *array = s_prefixes_sorted (prefixes, &count);
    if (!array)
        return NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out) {
        free (array);
        return NULL;
    }
    enf_lengths_t lengths;
    memset (&lengths, 0, sizeof lengths);
    //  add + delete + add: atomic replacement whether the table exists or not
    fprintf (out, "add table inet " ENF_TABLE "\n"
                  "delete table inet " ENF_TABLE "\n"
                  "add table inet " ENF_TABLE "\n"
                  "add chain inet " ENF_TABLE " " S_CHAIN
                  " { type filter hook forward priority %d; policy accept; }\n",
             S_CHAIN_PRIORITY);
    for (size_t from = 0; from < count; ) {
        size_t to = s_run_end (array, count, from);
        s_emit_set (out, array [from].family, array [from].length);
        *s_length_flag (&lengths, array [from].family, array [from].length) = true;
        s_emit_elements (out, "add", array, from, to);
        from = to;
    }
    free (array);
    text = s_stream_close (out, &text);
    if (text && lengths_out)
        *lengths_out = lengths;
    return text;
}

char *
enf_nft_batch_update (const enf_lengths_t *installed, zlistx_t *add, zlistx_t *remove,
                      enf_lengths_t *lengths_out)
{
    assert (installed);
    size_t add_count = 0, remove_count = 0;
    enf_prefix_t *adds = s_prefixes_sorted (add, &add_count);
    enf_prefix_t *removes = s_prefixes_sorted (remove, &remove_count);
    char *text = NULL;
    size_t size = 0;
    FILE *out = adds && removes? open_memstream (&text, &size): NULL;
    if (!out) {
        free (adds);
        free (removes);
        return NULL;
    }
    enf_lengths_t lengths = *installed;
    //  Deletions first; a length without a set holds nothing to delete
    for (size_t from = 0; from < remove_count; ) {
        size_t to = s_run_end (removes, remove_count, from);
        if (*s_length_flag (&lengths, removes [from].family, removes [from].length))
            s_emit_elements (out, "delete", removes, from, to);
        from = to;
    }
    for (size_t from = 0; from < add_count; ) {
        size_t to = s_run_end (adds, add_count, from);
        bool *flag = s_length_flag (&lengths, adds [from].family, adds [from].length);
        if (!*flag) {
            s_emit_set (out, adds [from].family, adds [from].length);
            *flag = true;
        }
        s_emit_elements (out, "add", adds, from, to);
        from = to;
    }
    free (adds);
    free (removes);
    text = s_stream_close (out, &text);
    if (text && lengths_out)
        *lengths_out = lengths;
    return text;
}


//  --------------------------------------------------------------------------
//  Read-back

enf_seen_t *
enf_seen_new (void)
{
    enf_seen_t *self = (enf_seen_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->in_force = enf_prefix_set_new ();
    if (!self->in_force) {
        free (self);
        return NULL;
    }
    return self;
}

void
enf_seen_destroy (enf_seen_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zhashx_destroy (&(*self_p)->in_force);
        free (*self_p);
        *self_p = NULL;
    }
}

//  What the parser collects before it decides what is in force
typedef struct {
    enf_seen_t *seen;
    bool chain;                     //  our base chain exists, hooked on forward
    bool bypass;                    //  a foreign rule that can end evaluation came first
    bool offload;                   //  a base chain ahead of ours offloads to a flowtable
    int count [2][129][2];          //  our rules by [v6][length][daddr] before any bypass
    zlistx_t *elements;             //  "family/length/address" of every element
    zlistx_t *ahead;                //  names of foreign base chains on forward not after ours
} s_parse_t;

//  Mark the table inexact, keeping the first reason
static void
s_seen_vinexact (enf_seen_t *seen, const char *format, va_list args)
{
    if (!seen->exact)
        return;
    seen->exact = false;
    vsnprintf (seen->why, sizeof seen->why, format, args);
}

static void
s_foreign (s_parse_t *parse, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_foreign (s_parse_t *parse, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_seen_vinexact (parse->seen, format, args);
    va_end (args);
}

static void
s_seen_inexact (enf_seen_t *seen, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_seen_inexact (enf_seen_t *seen, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_seen_vinexact (seen, format, args);
    va_end (args);
}

//  v4_24 -> AF_INET, 24; 0 ok, -1 not one of our names
static int
s_parse_set_name (const char *name, int *family, int *length)
{
    if (!name || name [0] != 'v' || (name [1] != '4' && name [1] != '6') || name [2] != '_')
        return -1;
    *family = name [1] == '4'? AF_INET: AF_INET6;
    const char *digits = name + 3;
    size_t count = strlen (digits);
    if (count < 1 || count > 3 || digits [0] == '0')
        return -1;
    int value = 0;
    for (size_t index = 0; index < count; index++) {
        if (digits [index] < '0' || digits [index] > '9')
            return -1;
        value = value * 10 + (digits [index] - '0');
    }
    if (value > s_max_length (*family))
        return -1;
    *length = value;
    return 0;
}

static const char *
s_string (json_t *object, const char *key)
{
    return json_string_value (json_object_get (object, key));
}

static bool
s_is (json_t *object, const char *key, const char *value)
{
    const char *text = s_string (object, key);
    return text && strcmp (text, value) == 0;
}

static void
s_parse_set (s_parse_t *parse, json_t *set)
{
    const char *name = s_string (set, "name");
    int family = 0, length = 0;
    if (!s_is (set, "family", "inet") || !s_is (set, "table", ENF_TABLE))
        return;                             //  not in our table
    if (s_parse_set_name (name, &family, &length)) {
        s_foreign (parse, "set %s is not one of ours", name? name: "(no name)");
        return;
    }
    if (!s_is (set, "type", family == AF_INET? "ipv4_addr": "ipv6_addr")) {
        s_foreign (parse, "set %s has the wrong type", name);
        return;
    }
    const char *key;
    json_t *value;
    json_object_foreach (set, key, value) {
        if (strcmp (key, "family") && strcmp (key, "name") && strcmp (key, "table")
        &&  strcmp (key, "type") && strcmp (key, "handle") && strcmp (key, "elem"))
            s_foreign (parse, "set %s has \"%s\"", name, key);
    }
    *s_length_flag (&parse->seen->sets, family, length) = true;
    json_t *elements = json_object_get (set, "elem");
    size_t index;
    json_t *element;
    json_array_foreach (elements, index, element) {
        //  A plain element is a string; one with a comment an object
        const char *address = json_string_value (element);
        if (!address && json_is_object (element))
            address = s_string (json_object_get (element, "elem"), "val");
        char text [ENF_PREFIX_MAX + 8];
        enf_prefix_t prefix;
        if (address)
            snprintf (text, sizeof text, "%s/%d", address, length);
        if (!address || enf_prefix_parse (text, &prefix, NULL, 0)
        ||  prefix.family != family) {
            s_foreign (parse, "set %s holds an element that is not a network address of its length",
                       name);
            continue;
        }
        if (!json_is_string (element))
            s_foreign (parse, "set %s holds an element with attributes", name);
        char canon [ENF_PREFIX_MAX];
        enf_prefix_format (&prefix, canon);
        zlistx_add_end (parse->elements, canon);
        parse->seen->elements++;
    }
}

static void
s_parse_chain (s_parse_t *parse, json_t *chain)
{
    if (!s_is (chain, "family", "inet") || !s_is (chain, "table", ENF_TABLE))
        return;
    const char *name = s_string (chain, "name");
    if (!name || strcmp (name, S_CHAIN)) {
        s_foreign (parse, "chain %s is not ours", name? name: "(no name)");
        //  A base chain on forward that runs before ours (or at our
        //  priority, whose order the kernel does not promise) can offload
        //  a flow to a flowtable, whose packets then skip the hook
        json_t *prio = json_object_get (chain, "prio");
        if (name && s_is (chain, "hook", "forward") && json_is_integer (prio)
        &&  json_integer_value (prio) <= S_CHAIN_PRIORITY)
            zlistx_add_end (parse->ahead, (void *) name);
        return;
    }
    if (!s_is (chain, "type", "filter") || !s_is (chain, "hook", "forward")) {
        s_foreign (parse, "chain " S_CHAIN " is not a filter chain on the forward hook");
        return;
    }
    parse->chain = true;
    json_t *prio = json_object_get (chain, "prio");
    if (!json_is_integer (prio) || json_integer_value (prio) != S_CHAIN_PRIORITY)
        s_foreign (parse, "chain " S_CHAIN " has another priority");
    if (!s_is (chain, "policy", "accept"))
        s_foreign (parse, "chain " S_CHAIN " has another policy");
}

//  One of our rules: [match (payload [& mask]) == @set, drop]; 0 and
//  family, length, daddr when it is, -1 when not.
static int
s_our_rule (json_t *expr, int *family_p, int *length_p, int *daddr_p)
{
    if (json_array_size (expr) != 2)
        return -1;
    json_t *drop = json_array_get (expr, 1);
    if (!json_is_object (drop) || json_object_size (drop) != 1
    ||  !json_object_get (drop, "drop"))
        return -1;
    json_t *match = json_object_get (json_array_get (expr, 0), "match");
    if (!match || !s_is (match, "op", "=="))
        return -1;
    const char *right = s_string (match, "right");
    int family = 0, length = 0;
    if (!right || right [0] != '@' || s_parse_set_name (right + 1, &family, &length))
        return -1;
    json_t *left = json_object_get (match, "left");
    json_t *masked = json_object_get (left, "&");
    json_t *payload = json_object_get (masked? json_array_get (masked, 0): left, "payload");
    if (!s_is (payload, "protocol", family == AF_INET? "ip": "ip6"))
        return -1;
    bool daddr = s_is (payload, "field", "daddr");
    if (!daddr && !s_is (payload, "field", "saddr"))
        return -1;
    //  A mask exactly when the length is not the whole address
    if ((masked != NULL) != (length < s_max_length (family)))
        return -1;
    if (masked) {
        const char *mask_text = json_string_value (json_array_get (masked, 1));
        uint8_t mask [16] = { 0 }, expected [16];
        if (json_array_size (masked) != 2 || !mask_text
        ||  inet_pton (family, mask_text, mask) != 1)
            return -1;
        s_mask (family, length, expected);
        if (memcmp (mask, expected, 16))
            return -1;
    }
    *family_p = family;
    *length_p = length;
    *daddr_p = daddr? 1: 0;
    return 0;
}

//  True when test holds for a member of an object anywhere in value (its
//  key and its value), objects and arrays walked down
typedef bool (s_member_test_fn) (const char *key, json_t *member);

static bool
s_any_member (json_t *value, s_member_test_fn *test)
{
    if (json_is_object (value)) {
        const char *key;
        json_t *member;
        json_object_foreach (value, key, member) {
            if (test (key, member) || s_any_member (member, test))
                return true;
        }
    }
    else
    if (json_is_array (value)) {
        size_t index;
        json_t *member;
        json_array_foreach (value, index, member)
            if (s_any_member (member, test))
                return true;
    }
    return false;
}

//  An offload of the flow to a flowtable (`flow add @ft`): the flow's later
//  packets take the flowtable's path from ingress and never reach the
//  forward hook, so no drop of ours sees them
static bool
s_is_offload (const char *key, json_t *member)
{
    (void) member;
    return strcmp (key, "flow") == 0;
}

//  A verdict that may end evaluation before our drops (accept, jump, ...),
//  or a verdict map whose verdicts are in a named map (`vmap @m`: the rule
//  does not say them, and the map may gain an accept at any time; an
//  anonymous one's are in the rule)
static bool
s_is_bypass (const char *key, json_t *member)
{
    static const char *verdicts [] = { "accept", "jump", "goto", "return", "queue", NULL };
    for (int index = 0; verdicts [index]; index++)
        if (strcmp (key, verdicts [index]) == 0)
            return true;
    return strcmp (key, "vmap") == 0 && json_is_string (json_object_get (member, "data"));
}

//  True when a rule offloads its flow to a flowtable
static bool
s_offloads (json_t *value)
{
    return s_any_member (value, s_is_offload);
}

//  True when a rule may end evaluation before our drops
static bool
s_may_bypass (json_t *value)
{
    return s_any_member (value, s_is_bypass);
}

static void
s_parse_rule (s_parse_t *parse, json_t *rule)
{
    if (!s_is (rule, "family", "inet") || !s_is (rule, "table", ENF_TABLE))
        return;
    if (!s_is (rule, "chain", S_CHAIN)) {
        //  Its chain is foreign already. An accept there does not pass
        //  ours (accept ends only its own base chain; the packet goes on
        //  to ours), but an offload to a flowtable does, wherever the
        //  listing puts the rule
        const char *chain = s_string (rule, "chain");
        if (chain && zlistx_find (parse->ahead, (void *) chain)
        &&  s_offloads (json_object_get (rule, "expr")))
            parse->offload = true;
        return;
    }
    json_t *expr = json_object_get (rule, "expr");
    int family = 0, length = 0, daddr = 0;
    if (s_our_rule (expr, &family, &length, &daddr) == 0) {
        if (!parse->bypass)
            parse->count [family == AF_INET6][length][daddr]++;
        return;
    }
    s_foreign (parse, "chain " S_CHAIN " has a rule that is not ours");
    if (s_may_bypass (expr) || s_offloads (expr))
        parse->bypass = true;
}

int
enf_nft_parse (const char *json, enf_seen_t *seen)
{
    assert (seen);
    seen->table = false;
    seen->exact = true;
    seen->why [0] = '\0';
    memset (&seen->sets, 0, sizeof seen->sets);
    memset (&seen->rules, 0, sizeof seen->rules);
    seen->elements = 0;
    zhashx_purge (seen->in_force);
    if (json == NULL) {
        seen->exact = false;
        snprintf (seen->why, sizeof seen->why, "table inet " ENF_TABLE " does not exist");
        return 0;
    }
    json_error_t error;
    json_t *root = json_loads (json, 0, &error);
    json_t *items = json_object_get (root, "nftables");
    if (!json_is_array (items)) {
        json_decref (root);
        return -1;
    }
    s_parse_t parse;
    memset (&parse, 0, sizeof parse);
    parse.seen = seen;
    parse.elements = enf_strings_new ();
    parse.ahead = enf_strings_new ();
    size_t index;
    json_t *item;
    json_array_foreach (items, index, item) {
        json_t *body;
        if ((body = json_object_get (item, "metainfo")))
            continue;
        if ((body = json_object_get (item, "table"))) {
            if (s_is (body, "family", "inet") && s_is (body, "name", ENF_TABLE)) {
                seen->table = true;
                //  Ours has no flags (dormant, owner) nor anything else;
                //  enf_nft_read asks the kernel for the flags as well, since
                //  libnftables 1.0.6 writes them from freed memory
                const char *key;
                json_t *value;
                json_object_foreach (body, key, value) {
                    if (strcmp (key, "family") && strcmp (key, "name") && strcmp (key, "handle"))
                        s_foreign (&parse, "table inet " ENF_TABLE " has \"%s\"", key);
                }
            }
        }
        else
        if ((body = json_object_get (item, "set")))
            s_parse_set (&parse, body);
        else
        if ((body = json_object_get (item, "chain")))
            s_parse_chain (&parse, body);
        else
        if ((body = json_object_get (item, "rule")))
            s_parse_rule (&parse, body);
        else {
            const char *kind = json_object_iter_key (json_object_iter (item));
            s_foreign (&parse, "the table holds a %s", kind? kind: "something unknown");
        }
    }
    if (!seen->table)
        s_foreign (&parse, "table inet " ENF_TABLE " does not exist");
    if (!parse.chain)
        s_foreign (&parse, "chain " S_CHAIN " does not exist");

    if (parse.offload) {
        s_foreign (&parse, "a base chain ahead of chain " S_CHAIN " offloads to a flowtable");
        memset (parse.count, 0, sizeof parse.count);
    }
    //  A length drops both directions when it has both rules (and a set,
    //  which the kernel ensures for a rule that names it)
    for (int v6 = 0; v6 < 2; v6++)
        for (int length = 1; length <= (v6? 128: 32); length++) {
            int family = v6? AF_INET6: AF_INET;
            int saddr = parse.count [v6][length][0], daddr = parse.count [v6][length][1];
            bool has_set = *s_length_flag (&seen->sets, family, length);
            if (saddr && daddr && parse.chain)
                *s_length_flag (&seen->rules, family, length) = true;
            if (saddr > 1 || daddr > 1)
                s_foreign (&parse, "a rule of v%c_%d is there twice", v6? '6': '4', length);
            if (has_set && (saddr == 0 || daddr == 0))
                s_foreign (&parse, "set v%c_%d lacks a rule", v6? '6': '4', length);
        }
    for (const char *text = (const char *) zlistx_first (parse.elements); text;
         text = (const char *) zlistx_next (parse.elements)) {
        enf_prefix_t prefix;
        if (enf_prefix_parse (text, &prefix, NULL, 0) == 0
        &&  *s_length_flag (&seen->rules, prefix.family, prefix.length))
            zhashx_insert (seen->in_force, text, s_present);
    }
    zlistx_destroy (&parse.elements);
    zlistx_destroy (&parse.ahead);
    json_decref (root);
    return 0;
}

bool
enf_seen_matches (const enf_seen_t *seen, const enf_lengths_t *lengths)
{
    assert (seen);
    if (!seen->table || !seen->exact)
        return false;
    if (memcmp (&seen->sets, &seen->rules, sizeof seen->sets))
        return false;
    return lengths == NULL || memcmp (&seen->sets, lengths, sizeof seen->sets) == 0;
}

//  Keys of a that b lacks, appended to list and sorted. Iterates a copy of
//  the keys: zhashx_lookup may reorder a bucket under a running cursor, so
//  the same hash as a and b would never end.
static void
s_keys_not_in (zhashx_t *a, zhashx_t *b, zlistx_t *list)
{
    zlistx_t *keys = zhashx_keys (a);
    for (const char *key = keys? (const char *) zlistx_first (keys): NULL; key;
         key = (const char *) zlistx_next (keys))
        if (!zhashx_lookup (b, key))
            zlistx_add_end (list, (void *) key);
    zlistx_destroy (&keys);
    zlistx_sort (list);
}

void
enf_nft_diff (zhashx_t *desired, zhashx_t *actual, zlistx_t *missing, zlistx_t *extra)
{
    assert (desired);
    assert (actual);
    if (missing)
        s_keys_not_in (desired, actual, missing);
    if (extra)
        s_keys_not_in (actual, desired, extra);
}


//  --------------------------------------------------------------------------
//  The object

bool
enf_nft_has_net_admin (void)
{
    struct __user_cap_header_struct header = {
        .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0
    };
    struct __user_cap_data_struct data [_LINUX_CAPABILITY_U32S_3];
    memset (data, 0, sizeof data);
    if (syscall (SYS_capget, &header, data) != 0)
        return false;
    return (data [CAP_TO_INDEX (CAP_NET_ADMIN)].effective & CAP_TO_MASK (CAP_NET_ADMIN)) != 0;
}

const char *
enf_nft_denied_cause (int rc, bool has_net_admin)
{
    if (rc == ENF_NFT_OWNED)
        return "table inet " ENF_TABLE " is owned by another process";
    return has_net_admin? "nftables refused although CAP_NET_ADMIN is in the effective set"
                        : "needs CAP_NET_ADMIN";
}

bool
enf_netns_valid (const char *name)
{
    size_t size = name? strlen (name): 0;
    if (size == 0 || size >= ENF_NETNS_MAX || strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
        return false;
    for (size_t index = 0; index < size; index++) {
        char c = name [index];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static struct nft_ctx *
s_ctx_new (bool json)
{
    struct nft_ctx *ctx = nft_ctx_new (NFT_CTX_DEFAULT);
    if (!ctx)
        return NULL;
    if (nft_ctx_buffer_output (ctx) || nft_ctx_buffer_error (ctx)) {
        nft_ctx_free (ctx);
        return NULL;
    }
    nft_ctx_output_set_flags (ctx, json? NFT_CTX_OUTPUT_JSON: 0);
    return ctx;
}

enf_nft_t *
enf_nft_new (const char *netns, char *why, size_t why_size)
{
    if (!enf_netns_valid (netns)) {
        lg_why (why, why_size, "network namespace name \"%s\" is not \"host\" nor a name "
                "of [A-Za-z0-9._-]{1,%d}", netns? netns: "", ENF_NETNS_MAX - 1);
        return NULL;
    }
    enf_nft_t *self = (enf_nft_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->probe = -1;
    snprintf (self->netns, sizeof self->netns, "%s", netns);
    bool host = strcmp (netns, "host") == 0;
    int home = -1, target = -1;
    bool entered = false, ok = false;
    if (!host) {
        home = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (home < 0) {
            lg_why (why, why_size, "could not open /proc/thread-self/ns/net: %s", strerror (errno));
            goto cleanup;
        }
        char path [sizeof "/run/netns/" + ENF_NETNS_MAX];
        snprintf (path, sizeof path, "/run/netns/%s", netns);
        target = open (path, O_RDONLY | O_CLOEXEC);
        if (target < 0) {
            lg_why (why, why_size, "could not open network namespace %s: %s", path,
                    strerror (errno));
            goto cleanup;
        }
        struct stat entered_ns;
        if (fstat (target, &entered_ns)) {
            lg_why (why, why_size, "could not stat network namespace %s: %s", path,
                    strerror (errno));
            goto cleanup;
        }
        self->netns_dev = entered_ns.st_dev;
        self->netns_ino = entered_ns.st_ino;
        if (setns (target, CLONE_NEWNET)) {
            lg_why (why, why_size, "could not enter network namespace %s: %s%s", netns,
                    strerror (errno), errno == EPERM? " (entering needs CAP_SYS_ADMIN)": "");
            goto cleanup;
        }
        entered = true;
    }
    self->probe = -1;
    self->writer = s_ctx_new (false);
    self->reader = s_ctx_new (true);
    if (!self->writer || !self->reader) {
        lg_why (why, why_size, "could not create a libnftables context");
        goto cleanup;
    }
    self->probe = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    struct timeval timeout = { .tv_sec = 2, .tv_usec = 0 };
    if (self->probe < 0
    ||  setsockopt (self->probe, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout)) {
        lg_why (why, why_size, "could not open a netfilter netlink socket: %s", strerror (errno));
        goto cleanup;
    }
    ok = true;
cleanup:
    if (entered) {
        //  Back home; staying in the gateway's namespace would put every
        //  socket the process opens later there
        struct stat want, now;
        if (setns (home, CLONE_NEWNET) || fstat (home, &want)
        ||  stat ("/proc/thread-self/ns/net", &now) || want.st_ino != now.st_ino) {
            lg_why (why, why_size, "could not return to the original network namespace: %s",
                    strerror (errno));
            ok = false;
        }
    }
    if (home >= 0)
        close (home);
    if (target >= 0)
        close (target);
    if (!ok)
        enf_nft_destroy (&self);
    return self;
}

void
enf_nft_destroy (enf_nft_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        enf_nft_t *self = *self_p;
        if (self->writer)
            nft_ctx_free (self->writer);
        if (self->reader)
            nft_ctx_free (self->reader);
        if (self->probe >= 0)
            close (self->probe);
        free (self);
        *self_p = NULL;
    }
}

const char *
enf_nft_netns (enf_nft_t *self)
{
    assert (self);
    return self->netns;
}

int
enf_nft_netns_same (enf_nft_t *self, char *why, size_t why_size)
{
    assert (self);
    if (strcmp (self->netns, "host") == 0)
        return 0;                       //  our own: nobody can replace it under us
    char path [sizeof "/run/netns/" + ENF_NETNS_MAX];
    snprintf (path, sizeof path, "/run/netns/%s", self->netns);
    struct stat now;
    if (stat (path, &now)) {
        lg_why (why, why_size, "%s: %s (the namespace was deleted)", path, strerror (errno));
        return -1;
    }
    if (now.st_dev != self->netns_dev || now.st_ino != self->netns_ino) {
        lg_why (why, why_size, "%s is now another namespace (inode %ju, entered at start %ju):"
                " it was deleted and created again", path, (uintmax_t) now.st_ino,
                (uintmax_t) self->netns_ino);
        return -1;
    }
    return 0;
}

const enf_lengths_t *
enf_nft_lengths (enf_nft_t *self)
{
    assert (self);
    return &self->lengths;
}

//  Run text in ctx; 0, ENF_NFT_FAILED or ENF_NFT_DENIED with nftables' own
//  error (first line) in why. *output_p (if not NULL) gets a copy of the
//  output on success.
static int
s_run (struct nft_ctx *ctx, const char *text, char **output_p, char *why, size_t why_size)
{
    errno = 0;
    int rc = nft_run_cmd_from_buffer (ctx, text);
    int error = errno;
    const char *output = nft_ctx_get_output_buffer (ctx);
    const char *message = nft_ctx_get_error_buffer (ctx);
    if (rc == 0) {
        if (output_p)
            *output_p = strdup (output);
        return output_p && !*output_p? ENF_NFT_FAILED: 0;
    }
    size_t line = strcspn (message, "\n");
    lg_why (why, why_size, "%.*s", (int) (line > 400? 400: line),
            *message? message: strerror (error? error: EIO));
    if (error == EPERM || strstr (message, "Operation not permitted"))
        return ENF_NFT_DENIED;
    return ENF_NFT_FAILED;
}

//  Run a batch through the writer (point 3); EPERM on a table another
//  process owns is ENF_NFT_OWNED, said with its owner (point 6)
static int
s_write (enf_nft_t *self, const char *text, char *why, size_t why_size)
{
    char refused [512] = "";
    int rc = s_run (self->writer, text, NULL, refused, sizeof refused);
    uint32_t flags = 0, owner = 0;
    if (rc == ENF_NFT_DENIED && s_table_flags (self, &flags, &owner) == 0
    &&  (flags & NFT_TABLE_F_OWNER)) {
        //  A process's first netlink socket takes its pid as port id, which
        //  is how `nft list table` names the owner too
        char comm [64] = "", path [48];
        snprintf (path, sizeof path, "/proc/%u/comm", (unsigned) owner);
        FILE *file = fopen (path, "r");
        if (file) {
            if (!fgets (comm, sizeof comm, file))
                comm [0] = '\0';
            comm [strcspn (comm, "\n")] = '\0';
            fclose (file);
        }
        lg_why (why, why_size, "table inet " ENF_TABLE " has the owner flag: only the netlink"
                " socket of port id %u%s%s%s may change it; nftables: %s", (unsigned) owner,
                *comm? " (process ": "", comm, *comm? ", if the port id is its pid)": "",
                refused);
        return ENF_NFT_OWNED;
    }
    if (rc)
        lg_why (why, why_size, "%s", refused);
    return rc;
}

int
enf_nft_rebuild (enf_nft_t *self, zhashx_t *desired, char *why, size_t why_size)
{
    assert (self);
    assert (desired);
    zlistx_t *keys = zhashx_keys (desired);
    enf_lengths_t lengths;
    char *text = keys? enf_nft_batch_rebuild (keys, &lengths): NULL;
    zlistx_destroy (&keys);
    if (!text) {
        lg_why (why, why_size, "could not build the batch"
                " (a prefix is malformed or memory ran out)");
        return ENF_NFT_FAILED;
    }
    int rc = s_write (self, text, why, why_size);
    free (text);
    if (rc == 0) {
        self->lengths = lengths;
        self->lengths_known = true;
    }
    self->known = false;                //  a rebuild is verified by a listing
    return rc;
}

int
enf_nft_update (enf_nft_t *self, zlistx_t *add, zlistx_t *remove, char *why, size_t why_size)
{
    assert (self);
    enf_lengths_t lengths;
    char *text = enf_nft_batch_update (&self->lengths, add, remove, &lengths);
    if (!text) {
        lg_why (why, why_size, "could not build the batch"
                " (a prefix is malformed or memory ran out)");
        return ENF_NFT_FAILED;
    }
    int rc = *text? s_write (self, text, why, why_size): 0;
    if (rc == 0 && *text)
        self->batches++;
    else
    if (rc)
        self->known = false;
    free (text);
    if (rc == 0)
        self->lengths = lengths;
    return rc;
}

int
enf_nft_read (enf_nft_t *self, enf_seen_t **seen_p, char *why, size_t why_size)
{
    assert (self);
    assert (seen_p);
    *seen_p = NULL;
    char *output = NULL;
    char message [512] = "";
    int rc = s_run (self->reader, "list table inet " ENF_TABLE, &output, message, sizeof message);
    bool absent = rc == ENF_NFT_FAILED && strstr (message, "No such file or directory");
    if (rc && !absent) {
        lg_why (why, why_size, "could not list table inet " ENF_TABLE ": %s", message);
        return rc;
    }
    enf_seen_t *seen = enf_seen_new ();
    if (!seen) {
        lg_why (why, why_size, "could not read table inet " ENF_TABLE ": out of memory");
        free (output);
        return ENF_NFT_FAILED;
    }
    if (enf_nft_parse (absent? NULL: output, seen)) {
        //  Nothing is claimed from a listing that cannot be read: nothing in
        //  force, the table inexact, so a reconcile replaces it (libnftables
        //  1.0.6 cuts its JSON short for a table with flags)
        seen->table = true;
        s_seen_inexact (seen, "the listing of table inet " ENF_TABLE " does not parse");
    }
    free (output);
    //  The flags from the kernel, not from the JSON (s_table_flags): a
    //  dormant table holds our rules and drops nothing
    uint32_t flags = 0;
    int error = s_table_flags (self, &flags, NULL);
    if (error) {
        lg_why (why, why_size, "could not read the flags of table inet " ENF_TABLE ": %s",
                strerror (-error));
        enf_seen_destroy (&seen);
        return error == -EPERM? ENF_NFT_DENIED: ENF_NFT_FAILED;
    }
    seen->flags = flags;
    if (flags) {
        //  The kernel's word, first: the JSON may have named the flags wrongly
        seen->exact = true;
        s_seen_inexact (seen, "table inet " ENF_TABLE " has flags 0x%x%s", flags,
                        flags & NFT_TABLE_F_DORMANT? " (dormant: it drops nothing)": "");
        if (flags & NFT_TABLE_F_DORMANT)
            zhashx_purge (seen->in_force);
    }
    *seen_p = seen;
    return 0;
}

int
enf_nft_verify (enf_nft_t *self, zhashx_t *desired, zlistx_t *missing, zlistx_t *extra,
                bool *ok, char *why, size_t why_size)
{
    assert (self);
    assert (desired);
    assert (ok);
    *ok = false;
    self->known = false;
    //  The generation before the listing: whatever is committed after it
    //  moves the generation past what point 7 expects
    uint32_t generation = 0;
    int error = s_generation (self, &generation);
    if (error) {
        lg_why (why, why_size, "could not read the ruleset's generation: %s", strerror (-error));
        return error == -EPERM? ENF_NFT_DENIED: ENF_NFT_FAILED;
    }
    //  A listing that differs is taken again once before it counts: the
    //  read-back of a large set right after its batch fell short now and
    //  then (CI: 378 of 10,000 prefixes missing; cause not found: the
    //  kernel's dump or libnftables). A real difference is found twice, at
    //  the cost of one more listing; a short one that the next listing
    //  contradicts is logged, for whoever looks for the cause
    enf_seen_t *seen = NULL;
    zlistx_t *lost = NULL, *stray = NULL;
    bool layout = false;
    for (int listing = 0; listing < 2 && !*ok; listing++) {
        size_t lost_before = lost? zlistx_size (lost): 0;
        size_t stray_before = stray? zlistx_size (stray): 0;
        zlistx_destroy (&lost);
        zlistx_destroy (&stray);
        enf_seen_destroy (&seen);
        int rc = enf_nft_read (self, &seen, why, why_size);
        if (rc)
            return rc;
        lost = enf_strings_new ();
        stray = enf_strings_new ();
        enf_nft_diff (desired, seen->in_force, lost, stray);
        //  Point 9: before a batch of ours, any layout a batch of ours makes
        layout = enf_seen_matches (seen, self->lengths_known? &self->lengths: NULL);
        *ok = zlistx_size (lost) == 0 && zlistx_size (stray) == 0 && layout;
        if (*ok && listing)
            lg_warning ("a listing of table inet " ENF_TABLE " differed from the desired state"
                        " (%zu missing, %zu extra) and the next one did not: taken as exact",
                        lost_before, stray_before);
    }
    if (*ok && !self->lengths_known) {
        self->lengths = seen->sets;
        self->lengths_known = true;
    }
    if (*ok) {
        self->known = true;
        self->generation = generation;
        self->batches = 0;
    }
    if (!*ok)
        lg_why (why, why_size, "%zu missing, %zu extra%s%s", zlistx_size (lost),
                zlistx_size (stray), layout? "": "; ",
                layout? "": seen->why [0]? seen->why: "the sets differ from the last batch");
    for (void *item = zlistx_first (lost); item && missing; item = zlistx_next (lost))
        zlistx_add_end (missing, item);
    for (void *item = zlistx_first (stray); item && extra; item = zlistx_next (stray))
        zlistx_add_end (extra, item);
    zlistx_destroy (&lost);
    zlistx_destroy (&stray);
    enf_seen_destroy (&seen);
    return 0;
}

int
enf_nft_reconcile (enf_nft_t *self, zhashx_t *desired, zlistx_t *missing, zlistx_t *extra,
                   bool *repaired, char *why, size_t why_size)
{
    assert (self);
    assert (repaired);
    *repaired = false;
    bool ok = false;
    int rc = enf_nft_verify (self, desired, missing, extra, &ok, why, why_size);
    if (rc || ok)
        return rc;
    char drift [256];
    snprintf (drift, sizeof drift, "%s", why? why: "");
    rc = enf_nft_rebuild (self, desired, why, why_size);
    if (rc)
        return rc;
    rc = enf_nft_verify (self, desired, NULL, NULL, &ok, why, why_size);
    if (rc)
        return rc;
    if (!ok) {
        lg_why (why, why_size, "the table still differs after a rebuild");
        return ENF_NFT_FAILED;
    }
    *repaired = true;
    lg_why (why, why_size, "%s", drift);
    return 0;
}


//  --------------------------------------------------------------------------
//  Questions to the kernel's nf_tables netlink interface (points 4 and 7):
//  elements, the table's flags, the ruleset's generation

#define S_QUERY_MAX     8192        //  bytes of one request
#define S_QUERY_BATCH   128         //  elements asked for in one request

typedef struct {
    uint8_t data [S_QUERY_MAX];
    size_t size;
} s_query_t;

static struct nlattr *
s_attr (s_query_t *query, uint16_t type, const void *value, size_t size)
{
    assert (query->size + NLA_HDRLEN + NLA_ALIGN (size) <= S_QUERY_MAX);
    struct nlattr *attr = (struct nlattr *) (query->data + query->size);
    attr->nla_type = type;
    attr->nla_len = (uint16_t) (NLA_HDRLEN + size);
    if (size)
        memcpy ((uint8_t *) attr + NLA_HDRLEN, value, size);
    query->size += NLA_ALIGN (NLA_HDRLEN + size);
    return attr;
}

//  Open a nested attribute; close it with s_nest_end
static size_t
s_nest (s_query_t *query, uint16_t type)
{
    size_t offset = query->size;
    s_attr (query, (uint16_t) (type | NLA_F_NESTED), NULL, 0);
    return offset;
}

static void
s_nest_end (s_query_t *query, size_t offset)
{
    struct nlattr *attr = (struct nlattr *) (query->data + offset);
    attr->nla_len = (uint16_t) (query->size - offset);
}

//  Start a request of this nf_tables message type; attributes follow
static void
s_query_start (s_query_t *query, uint16_t type, uint8_t family)
{
    memset (query, 0, sizeof *query);
    struct nlmsghdr *header = (struct nlmsghdr *) query->data;
    header->nlmsg_type = (uint16_t) ((NFNL_SUBSYS_NFTABLES << 8) | type);
    header->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    query->size = NLMSG_HDRLEN;
    struct nfgenmsg *nfgen = (struct nfgenmsg *) (query->data + query->size);
    nfgen->nfgen_family = family;
    nfgen->version = NFNETLINK_V0;
    nfgen->res_id = 0;
    query->size += NLMSG_ALIGN (sizeof *nfgen);
}

//  Called with each answer of the type asked for
typedef void (s_answer_fn) (const struct nlmsghdr *message, void *arg);

//  Send a request on the probe socket and read until the kernel's ack,
//  handing every message of type answer to fn. 0 (the ack), the kernel's
//  -errno, or -EIO when the socket failed or the kernel did not answer
//  within SO_RCVTIMEO (-EPERM when sending was not permitted)
static int
s_ask (enf_nft_t *self, s_query_t *query, uint16_t answer, s_answer_fn *fn, void *arg)
{
    struct nlmsghdr *header = (struct nlmsghdr *) query->data;
    header->nlmsg_seq = ++self->seq;
    header->nlmsg_len = (uint32_t) query->size;
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    if (sendto (self->probe, query->data, query->size, 0, (struct sockaddr *) &kernel,
                sizeof kernel) != (ssize_t) query->size)
        return errno == EPERM? -EPERM: -EIO;
    uint16_t wanted = (uint16_t) ((NFNL_SUBSYS_NFTABLES << 8) | answer);
    uint8_t reply [32768];
    while (true) {
        ssize_t got = recv (self->probe, reply, sizeof reply, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -EIO;
        size_t left = (size_t) got;
        for (struct nlmsghdr *message = (struct nlmsghdr *) reply; NLMSG_OK (message, left);
             message = NLMSG_NEXT (message, left)) {
            if (message->nlmsg_seq != self->seq)
                continue;               //  a late answer to an earlier question
            if (message->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *error = (const struct nlmsgerr *) NLMSG_DATA (message);
                return error->error;    //  0 (the ack) or -errno
            }
            if (message->nlmsg_type == wanted)
                fn (message, arg);
        }
    }
}

//  The value of a u32 attribute of an nf_tables message; false if absent
static bool
s_answer_u32 (const struct nlmsghdr *message, uint16_t type, uint32_t *value)
{
    size_t skip = NLMSG_HDRLEN + NLMSG_ALIGN (sizeof (struct nfgenmsg));
    if (message->nlmsg_len < skip)
        return false;
    const uint8_t *at = (const uint8_t *) message + skip;
    size_t left = message->nlmsg_len - skip;
    while (left >= NLA_HDRLEN) {
        const struct nlattr *attr = (const struct nlattr *) at;
        if (attr->nla_len < NLA_HDRLEN || attr->nla_len > left)
            return false;
        if ((attr->nla_type & NLA_TYPE_MASK) == type && attr->nla_len >= NLA_HDRLEN + 4) {
            uint32_t big;
            memcpy (&big, at + NLA_HDRLEN, sizeof big);
            *value = ntohl (big);
            return true;
        }
        size_t step = NLA_ALIGN (attr->nla_len);
        if (step >= left)
            break;
        at += step;
        left -= step;
    }
    return false;
}

static void
s_count_answer (const struct nlmsghdr *message, void *arg)
{
    (void) message;
    (*(size_t *) arg)++;
}

//  Ask for the elements prefixes [from, to) (one family and length) in
//  their set. Returns 0 and *found (elements the kernel returned) when all
//  are there, a negative errno when the kernel refused (-ENOENT: one is
//  not there, or the set is not), -EIO when the socket failed.
static int
s_query (enf_nft_t *self, const enf_prefix_t *prefixes, size_t from, size_t to, size_t *found)
{
    s_query_t query;
    s_query_start (&query, NFT_MSG_GETSETELEM, NFPROTO_INET);
    char name [8];
    s_set_name (prefixes [from].family, prefixes [from].length, name);
    s_attr (&query, NFTA_SET_ELEM_LIST_TABLE, ENF_TABLE, sizeof ENF_TABLE);
    s_attr (&query, NFTA_SET_ELEM_LIST_SET, name, strlen (name) + 1);
    size_t list = s_nest (&query, NFTA_SET_ELEM_LIST_ELEMENTS);
    for (size_t index = from; index < to; index++) {
        size_t element = s_nest (&query, NFTA_LIST_ELEM);
        size_t key = s_nest (&query, NFTA_SET_ELEM_KEY);
        s_attr (&query, NFTA_DATA_VALUE, prefixes [index].addr,
                prefixes [index].family == AF_INET? 4: 16);
        s_nest_end (&query, key);
        s_nest_end (&query, element);
    }
    s_nest_end (&query, list);
    *found = 0;
    return s_ask (self, &query, NFT_MSG_NEWSETELEM, s_count_answer, found);
}

typedef struct {
    uint16_t attribute;
    uint32_t value;
    bool found;
} s_u32_answer_t;

static void
s_u32_answer (const struct nlmsghdr *message, void *arg)
{
    s_u32_answer_t *answer = (s_u32_answer_t *) arg;
    answer->found = s_answer_u32 (message, answer->attribute, &answer->value)
                 || answer->found;
}

typedef struct {
    uint32_t flags;
    uint32_t owner;
} s_table_answer_t;

static void
s_table_answer (const struct nlmsghdr *message, void *arg)
{
    s_table_answer_t *answer = (s_table_answer_t *) arg;
    s_answer_u32 (message, NFTA_TABLE_FLAGS, &answer->flags);
    s_answer_u32 (message, NFTA_TABLE_OWNER, &answer->owner);
}

//  The flags of table inet lgwan as the kernel holds them (0 when there is
//  no such table), and with the owner flag the netlink port id of its owner
//  (owner may be NULL). libnftables 1.0.6 writes a table's flags into its
//  JSON from freed memory ("flags": "ipv4_addr", or the text cut short), so
//  they are asked for here. 0, or -errno as s_ask.
static int
s_table_flags (enf_nft_t *self, uint32_t *flags, uint32_t *owner)
{
    s_query_t query;
    s_query_start (&query, NFT_MSG_GETTABLE, NFPROTO_INET);
    s_attr (&query, NFTA_TABLE_NAME, ENF_TABLE, sizeof ENF_TABLE);
    s_table_answer_t answer = { 0, 0 };
    int error = s_ask (self, &query, NFT_MSG_NEWTABLE, s_table_answer, &answer);
    *flags = error == 0? answer.flags: 0;
    if (owner)
        *owner = error == 0? answer.owner: 0;
    return error == -ENOENT? 0: error;
}

//  The generation of the namespace's ruleset: the kernel adds one for
//  every transaction committed, by anyone, in any table. 0, or -errno
static int
s_generation (enf_nft_t *self, uint32_t *generation)
{
    s_query_t query;
    s_query_start (&query, NFT_MSG_GETGEN, NFPROTO_UNSPEC);
    s_u32_answer_t answer = { NFTA_GEN_ID, 0, false };
    int error = s_ask (self, &query, NFT_MSG_NEWGEN, s_u32_answer, &answer);
    if (error == 0 && !answer.found)
        error = -EIO;
    *generation = answer.value;
    return error;
}

int
enf_nft_confirm (enf_nft_t *self, zlistx_t *add, zlistx_t *remove, bool *ok,
                 char *why, size_t why_size)
{
    assert (self);
    assert (ok);
    *ok = false;
    size_t add_count = 0, remove_count = 0;
    enf_prefix_t *adds = s_prefixes_sorted (add, &add_count);
    enf_prefix_t *removes = s_prefixes_sorted (remove, &remove_count);
    int rc = 0;
    if (!adds || !removes) {
        lg_why (why, why_size, "a prefix to confirm is malformed");
        rc = ENF_NFT_FAILED;
        goto cleanup;
    }
    *ok = true;
    //  Added: all there, asked for per set in batches
    for (size_t from = 0; from < add_count && *ok; ) {
        size_t to = s_run_end (adds, add_count, from);
        if (to - from > S_QUERY_BATCH)
            to = from + S_QUERY_BATCH;
        size_t found = 0;
        int error = s_query (self, adds, from, to, &found);
        if (error == -EPERM || error == -EIO) {
            lg_why (why, why_size, "could not query set elements: %s", strerror (-error));
            rc = error == -EPERM? ENF_NFT_DENIED: ENF_NFT_FAILED;
            goto cleanup;
        }
        if (error || found != to - from) {
            char text [ENF_PREFIX_MAX];
            enf_prefix_format (&adds [from], text);
            lg_why (why, why_size, "the kernel lacks an added element (of %s .. %zu): %s",
                    text, to - from, error? strerror (-error): "fewer elements returned");
            *ok = false;
        }
        from = to;
    }
    //  Removed: each gone (ENOENT), one question each
    for (size_t index = 0; index < remove_count && *ok; index++) {
        size_t found = 0;
        int error = s_query (self, removes, index, index + 1, &found);
        if (error == -EPERM || error == -EIO) {
            lg_why (why, why_size, "could not query set elements: %s", strerror (-error));
            rc = error == -EPERM? ENF_NFT_DENIED: ENF_NFT_FAILED;
            goto cleanup;
        }
        if (error != -ENOENT) {
            char text [ENF_PREFIX_MAX];
            enf_prefix_format (&removes [index], text);
            lg_why (why, why_size, "the kernel still holds removed %s%s%s", text,
                    error? ": ": "", error? strerror (-error): "");
            *ok = false;
        }
    }
    //  The rest of the table (chain, rules, flags, other sets) is as the
    //  last listing found it when nothing but our batches was committed
    //  since (point 7); otherwise only a listing can tell
    if (*ok) {
        uint32_t generation = 0;
        int error = s_generation (self, &generation);
        if (error) {
            lg_why (why, why_size, "could not read the ruleset's generation: %s",
                    strerror (-error));
            rc = error == -EPERM? ENF_NFT_DENIED: ENF_NFT_FAILED;
            goto cleanup;
        }
        if (!self->known) {
            lg_why (why, why_size, "the table was not read back since it was last rebuilt"
                    " or found different");
            *ok = false;
        }
        else
        if (generation != self->generation + self->batches) {
            lg_why (why, why_size, "the ruleset changed besides our batches since it was"
                    " last read back (generation %u, expected %u)", generation,
                    self->generation + self->batches);
            *ok = false;
            self->known = false;
        }
        else {
            self->generation = generation;
            self->batches = 0;
        }
    }
cleanup:
    free (adds);
    free (removes);
    return rc;
}
