/*  lgwan-enforcer: one enforcement point. Configured by environment only
    (README), stopped by SIGTERM.

    The order matters: the nftables contexts are created inside the gateway's
    network namespace before zsys_init starts ZeroMQ's threads, because setns
    moves only the calling thread and must not race with any other.
*/
#include "enforcer.h"

#include <stdio.h>
#include <string.h>

//  nftables refused with EPERM (ENF_NFT_DENIED; a listing is never
//  ENF_NFT_OWNED), said on stderr, plainly, whatever the log level: never
//  pretend (R16.1). The cause as it is, as the reactor says it later
//  (enf_nft_denied_cause, point 5 of enforcer.c): a missing CAP_NET_ADMIN
//  only when capget says it is missing. With it (held in a user namespace
//  that does not own the network namespace, or refused by a security
//  module) the start used to blame the capability all the same
static void
s_denied (const char *detail)
{
    bool has_net_admin = enf_nft_has_net_admin ();
    const char *cause = enf_nft_denied_cause (ENF_NFT_DENIED, has_net_admin);
    if (!has_net_admin)
        fprintf (stderr, "lgwan-enforcer: needs CAP_NET_ADMIN to apply isolation with nftables"
                 ": %s\nlgwan-enforcer: run it with that capability (and CAP_SYS_ADMIN to enter"
                 " another network namespace), or set LG_ENFORCER_DRY_RUN=true to record without"
                 " applying\n", detail);
    else
        fprintf (stderr, "lgwan-enforcer: %s: %s\nlgwan-enforcer: the capability must be held"
                 " in the user namespace that owns the network namespace, and no security module"
                 " may refuse it\n", cause, detail);
    lg_log_write (LG_LOG_FATAL, detail, "%s; exiting", cause);
}

int
main (int argc, char **argv)
{
    if (argc > 1) {
        fprintf (stderr, "usage: %s\n  configured by environment variables only "
                 "(see services/enforcer/README.md)\n", argv [0]);
        return strcmp (argv [1], "--help") == 0? 0: 2;
    }
    enforcer_config_t config;
    char why [600] = "";
    if (enforcer_config_load (&config, why, sizeof why)) {
        fprintf (stderr, "lgwan-enforcer: %s\n", why);
        return 1;
    }
    lg_log_init ("enforcer", (lg_log_level_t) config.log_level);
    lg_fault_configure (config.faults);

    enf_nft_t *nft = NULL;
    if (!config.dry_run) {
        if (!enf_nft_has_net_admin ()) {
            s_denied ("CAP_NET_ADMIN is not in the effective set");
            return 1;
        }
        nft = enf_nft_new (config.netns, why, sizeof why);
        if (!nft) {
            lg_log_write (LG_LOG_FATAL, why, "could not open nftables in network namespace %s",
                          config.netns);
            return 1;
        }
        //  A first read: EPERM here is said with its cause (s_denied)
        enf_seen_t *seen = NULL;
        int rc = enf_nft_read (nft, &seen, why, sizeof why);
        if (rc) {
            if (rc == ENF_NFT_DENIED)
                s_denied (why);
            else
                lg_log_write (LG_LOG_FATAL, why, "could not read nftables in network namespace %s",
                              config.netns);
            enf_nft_destroy (&nft);
            return 1;
        }
        lg_info ("table inet " ENF_TABLE " in network namespace %s: %s, %zu elements",
                 config.netns, seen->table? "present": "absent", seen->elements);
        enf_seen_destroy (&seen);
    }

    zsys_init ();
    zsys_set_logstream (NULL);
    enforcer_args_t args = { .config = &config, .nft = nft };
    zactor_t *actor = zactor_new (enforcer_actor, &args);
    enf_nft_destroy (&args.nft);        //  NULL: the actor took it
    char *status = actor? zstr_recv (actor): NULL;
    if (!status || strncmp (status, "READY", 5)) {
        //  The actor says "FAILED <why>": the why is what an operator reads
        const char *cause = !status? "interrupted"
                        : strncmp (status, "FAILED ", 7) == 0? status + 7: status;
        lg_log_write (LG_LOG_FATAL, NULL, "enforcer could not start: %s", cause);
        zstr_free (&status);
        zactor_destroy (&actor);
        return 1;
    }
    zstr_free (&status);
    int code = 0;
    zpoller_t *poller = zpoller_new (actor, NULL);
    while (!zsys_interrupted) {
        if (zpoller_wait (poller, 500) == actor) {
            char *message = zstr_recv (actor);
            if (message && strncmp (message, "FATAL", 5) == 0)
                code = 1;
            zstr_free (&message);
            break;
        }
    }
    zpoller_destroy (&poller);
    lg_info ("enforcer shutting down");
    zactor_destroy (&actor);
    return code;
}
