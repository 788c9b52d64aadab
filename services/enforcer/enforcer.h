/*  enforcer - one enforcement point: follows the isolation service's desired
    state (Clone pattern over proto/lgwan/v1/isolation.proto) and keeps table
    inet lgwan of its network namespace equal to it (enf_nft).

    main () loads the configuration, checks the capability, creates the
    nftables contexts in the namespace while it is still the only thread,
    then starts enforcer_actor and waits.
*/
#ifndef ENFORCER_H_INCLUDED
#define ENFORCER_H_INCLUDED

#include "lg_lib.h"
#include "enf_nft.h"

#define ENFORCER_POINT_MAX      LG_POINT_NAME_MAX
#define ENFORCER_CONNECT_MAX    4       //  isolation replicas to fail over between

typedef struct {
    char point [ENFORCER_POINT_MAX + 1];   //  LG_ENFORCER_POINT: [a-z0-9-]{1,32}
    char netns [ENF_NETNS_MAX];     //  LG_ENFORCER_NETNS: "host" or /run/netns/<name>
    bool dry_run;                   //  LG_ENFORCER_DRY_RUN
    int64_t reconcile_ms;           //  LG_RECONCILE_MS
    char connect [256];             //  LG_ISOLATION_ENFORCER_CONNECT: endpoints, comma-separated
    char endpoints [ENFORCER_CONNECT_MAX][256];     //  the same, one each
    size_t n_endpoints;
    char cert_dir [512];            //  LG_CERT_DIR
    char cert [512];                //  LG_ENFORCER_CERT: our secret certificate file
    char server_cert [600];         //  <LG_CERT_DIR>/services/isolation
    int64_t max_msg;                //  LG_MAX_MSG
    int log_level;                  //  LG_LOG_LEVEL
    char faults [256];              //  LG_FAULTS: test hooks (lg_fault), none by default
} enforcer_config_t;

//  Read the environment (README lists every variable). 0 ok, -1 with why
//  naming the variable and its value.
int enforcer_config_load (enforcer_config_t *config, char *why, size_t why_size);

//  What enforcer_actor starts from
typedef struct {
    const enforcer_config_t *config;    //  copied by the actor
    enf_nft_t *nft;                     //  taken by the actor (set to NULL); NULL in dry run
} enforcer_args_t;

//  zactor body; args is an enforcer_args_t. Sends "READY" or "FAILED <why>"
//  on the pipe; later "FATAL <why>" just before it stops on its own (lost
//  permission, or the gateway's namespace deleted or replaced). Ends on
//  $TERM or interrupt.
void enforcer_actor (zsock_t *pipe, void *args);

#endif
