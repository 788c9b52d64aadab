/*  enf_nft - table `inet lgwan` in one network namespace, through libnftables.

    The layout (one hash set per prefix length, so a lookup and a change cost
    the same at 10 isolated prefixes and at 10,000; interval sets slow down as
    they grow):

        table inet lgwan {
            set v4_24 { type ipv4_addr; }          network addresses of the /24s
            set v6_48 { type ipv6_addr; }          network addresses of the /48s
            chain forward { type filter hook forward priority -10; policy accept;
                ip saddr & 255.255.255.0 @v4_24 drop
                ip daddr & 255.255.255.0 @v4_24 drop
                ip6 saddr & ffff:ffff:ffff:: @v6_48 drop
                ip6 daddr & ffff:ffff:ffff:: @v6_48 drop
            }
        }

    A /32 or /128 set is matched without a mask. Only lengths that hold (or
    held since the last rebuild) a prefix have a set and rules.

    The class has three layers, the first two pure (no I/O, unit-tested):
    prefixes (parse, validate, canonical text), batch text and read-back
    parsing and diffing; then the object itself, which holds the libnftables
    contexts created inside the network namespace and applies and reads.
*/
#ifndef ENF_NFT_H_INCLUDED
#define ENF_NFT_H_INCLUDED

#include "lg_lib.h"

#define ENF_TABLE           "lgwan"
#define ENF_PREFIX_MAX      48      //  "ffff:...:ffff/128" and its NUL fit
#define ENF_NETNS_MAX       64      //  bytes of a namespace name

//  Results of the object's methods besides 0
#define ENF_NFT_FAILED      -1      //  nftables refused or could not be reached
#define ENF_NFT_DENIED      -2      //  EPERM: the process lacks CAP_NET_ADMIN
#define ENF_NFT_OWNED       -3      //  EPERM: table inet lgwan has the owner flag of
                                    //  another process's netlink socket

//  --------------------------------------------------------------------------
//  Prefixes

typedef struct {
    int family;                     //  AF_INET or AF_INET6
    int length;                     //  1 .. 32 or 1 .. 128
    uint8_t addr [16];              //  network address, host bits zero
} enf_prefix_t;

//  Parse "198.18.1.0/24" or "2001:db8::/32": an address inet_pton accepts, a
//  decimal length without sign or leading zero, 1 .. 32 (IPv4) or 1 .. 128
//  (IPv6), and no host bits. 0 ok, -1 with why.
int enf_prefix_parse (const char *text, enf_prefix_t *prefix, char *why, size_t why_size);

//  The canonical text (inet_ntop form) of a prefix into text [ENF_PREFIX_MAX].
void enf_prefix_format (const enf_prefix_t *prefix, char *text);

//  Parse and write the canonical form; 0 ok, -1 with why.
int enf_prefix_canon (const char *text, char *canon, char *why, size_t why_size);

//  The prefix lengths that have a set and rules in the table
typedef struct {
    bool v4 [33];
    bool v6 [129];
} enf_lengths_t;

//  --------------------------------------------------------------------------
//  Batches (pure). Each is the text of ONE nft_run_cmd_from_buffer, so the
//  kernel applies it as one transaction. Prefixes are lists of canonical
//  strings; any that does not parse makes the result NULL.

//  Rebuild the whole table for these prefixes: add + delete + add of the
//  table inside the batch, so the swap is atomic whether the table existed or
//  not. lengths_out (may be NULL) gets the lengths the table then has.
char *enf_nft_batch_rebuild (zlistx_t *prefixes, enf_lengths_t *lengths_out);

//  Delete remove, add add, creating the set and rules of a length not in
//  installed. Returns "" when both are empty. lengths_out (may be NULL, may
//  be installed) gets installed plus the new lengths.
char *enf_nft_batch_update (const enf_lengths_t *installed, zlistx_t *add, zlistx_t *remove,
                            enf_lengths_t *lengths_out);

//  --------------------------------------------------------------------------
//  What the kernel holds (read-back, parsed from `list table` JSON)

typedef struct {
    bool table;                 //  table inet lgwan exists
    bool exact;                 //  nothing but our chain, our sets and our rules
    char why [256];             //  when not exact: the first difference found
    enf_lengths_t sets;         //  sets present (named and typed as ours)
    enf_lengths_t rules;        //  lengths with both the saddr and daddr rule
    zhashx_t *in_force;         //  canonical prefixes that are dropped now
    size_t elements;            //  elements in all our sets
    uint32_t flags;             //  the table's flags, from the kernel (enf_nft_read only);
                                //  any makes it inexact, dormant takes all out of force
} enf_seen_t;

enf_seen_t *enf_seen_new (void);
void enf_seen_destroy (enf_seen_t **self_p);

//  Parse the JSON of `list table inet lgwan` into seen (fresh from
//  enf_seen_new). json NULL means the table does not exist. 0 ok, -1 when the
//  text is not the JSON libnftables writes. A table with anything but its
//  family, name and handle (flags) is inexact.
int enf_nft_parse (const char *json, enf_seen_t *seen);

//  True when seen is exactly what a rebuild for lengths made (lengths NULL:
//  any lengths, as long as every set has its rules).
bool enf_seen_matches (const enf_seen_t *seen, const enf_lengths_t *lengths);

//  Append to missing (in desired, not in actual) and extra (in actual, not in
//  desired), each sorted; both hashes are keyed by canonical prefix.
void enf_nft_diff (zhashx_t *desired, zhashx_t *actual, zlistx_t *missing, zlistx_t *extra);

//  A list of strings that owns its copies and sorts with strcmp
zlistx_t *enf_strings_new (void);

//  A hash of canonical prefixes (keys only), as the enforcer keeps its state
zhashx_t *enf_prefix_set_new (void);

//  --------------------------------------------------------------------------
//  The object

typedef struct _enf_nft_t enf_nft_t;

//  True for "host" and for a name of [A-Za-z0-9._-]{1,63} other than . and ..
//  (one file under /run/netns)
bool enf_netns_valid (const char *name);

//  True when the calling thread has CAP_NET_ADMIN in its effective set
//  (capget).
bool enf_nft_has_net_admin (void);

//  Why nftables refused with EPERM, as the enforcer says it before it stops
//  (pure): rc ENF_NFT_OWNED, the table is owned by another process; else
//  ENF_NFT_DENIED with or without CAP_NET_ADMIN in the effective set
//  (has_net_admin, enf_nft_has_net_admin): a missing capability is named
//  only when it is missing.
const char *enf_nft_denied_cause (int rc, bool has_net_admin);

//  Create the libnftables contexts inside network namespace netns ("host":
//  the process's own; otherwise /run/netns/<netns>), and come back: the
//  contexts keep their netlink sockets in that namespace, the process keeps
//  its own. Call before any other thread exists (setns acts on the calling
//  thread). NULL with why.
enf_nft_t *enf_nft_new (const char *netns, char *why, size_t why_size);
void enf_nft_destroy (enf_nft_t **self_p);

//  The namespace name given to new
const char *enf_nft_netns (enf_nft_t *self);

//  0 when /run/netns/<netns> still names the namespace new entered (always
//  for "host"); -1 with why when it was deleted, or deleted and created
//  again: the contexts still act on the old one (point 8 of enf_nft.c).
//  One stat.
int enf_nft_netns_same (enf_nft_t *self, char *why, size_t why_size);

//  The lengths the table has after our last successful batch (or, before
//  any, as the first exact verify found them)
const enf_lengths_t *enf_nft_lengths (enf_nft_t *self);

//  Rebuild the table for the prefixes of desired in one batch.
//  0, ENF_NFT_FAILED, ENF_NFT_DENIED or ENF_NFT_OWNED (why says more, for
//  OWNED the owner's netlink port id).
int enf_nft_rebuild (enf_nft_t *self, zhashx_t *desired, char *why, size_t why_size);

//  Apply one change in one batch: add and remove are canonical prefixes.
//  Results as enf_nft_rebuild.
int enf_nft_update (enf_nft_t *self, zlistx_t *add, zlistx_t *remove,
                    char *why, size_t why_size);

//  Read the table back into *seen_p (caller destroys): the JSON listing,
//  and the table's flags asked of the kernel. A listing that does not parse
//  is an inexact table with nothing in force (a reconcile rebuilds it).
int enf_nft_read (enf_nft_t *self, enf_seen_t **seen_p, char *why, size_t why_size);

//  Read back and compare with desired: missing and extra (may be NULL) get
//  the differences; *ok says whether the kernel holds exactly desired in the
//  layout of our last batch (before any, a start: in any layout a batch of
//  ours makes, whose lengths are then taken as ours, point 9 of enf_nft.c).
//  When it does, the ruleset's generation (read before the listing) is
//  remembered for enf_nft_confirm.
int enf_nft_verify (enf_nft_t *self, zhashx_t *desired, zlistx_t *missing, zlistx_t *extra,
                    bool *ok, char *why, size_t why_size);

//  Ask the kernel about the elements of one change only: every prefix of add
//  must be in its set, every prefix of remove must not; and the ruleset's
//  generation, which must have moved only by the batches of ours since the
//  last verify that found the kernel exact (else the chain, its rules or the
//  table's flags may have changed, and only a listing can tell: *ok false).
//  O(change), unlike a listing. 0 with *ok, or ENF_NFT_FAILED /
//  ENF_NFT_DENIED.
int enf_nft_confirm (enf_nft_t *self, zlistx_t *add, zlistx_t *remove, bool *ok,
                     char *why, size_t why_size);

//  Read back, and when the kernel differs from desired, rebuild and read
//  back again. missing and extra get what was wrong before the repair;
//  *repaired says whether a repair was made. 0 when the kernel now holds
//  desired, else ENF_NFT_FAILED, ENF_NFT_DENIED or ENF_NFT_OWNED.
int enf_nft_reconcile (enf_nft_t *self, zhashx_t *desired, zlistx_t *missing, zlistx_t *extra,
                       bool *repaired, char *why, size_t why_size);

#endif
