/*  lg_config - a service's configuration, from environment variables only.

    Every variable is listed in README's configuration table; a value that does
    not parse is an error at start, never a silent default.
*/
#ifndef LG_CONFIG_H_INCLUDED
#define LG_CONFIG_H_INCLUDED

typedef struct {
    char service [32];          //  registry, billing, ...
    char endpoint [256];        //  LG_<SVC>_ENDPOINT: ROUTER bind, tcp://*:7101
    char pub_endpoint [256];    //  LG_<SVC>_PUB_ENDPOINT: PUB bind, port + 100
    char db [1024];             //  LG_<SVC>_DB: libpq connection string
    char cert_dir [512];        //  LG_CERT_DIR
    char key_file [512];        //  LG_<SVC>_KEY_FILE: outbox HMAC key
    char clock_file [512];      //  LG_CLOCK_FILE: settable test clock
    char faults [256];          //  LG_FAULTS: comma separated fault points
    int64_t max_msg;            //  LG_MAX_MSG: bytes, application bound
    int64_t heartbeat_ms;       //  LG_HEARTBEAT_MS
    int64_t duty_ms;            //  LG_DUTY_MS: 0 = each duty's own period
    int64_t catch_up_wait_ms;   //  LG_CATCH_UP_WAIT_MS: bound of the after_catch_up wait
    int64_t workers;            //  LG_WORKERS: request workers, 0 = in the reactor
    int64_t pub_hwm;            //  LG_PUB_HWM
    int64_t max_waiting;        //  LG_MAX_WAITING: requests queued while every worker is busy
    int64_t max_waiting_mb;     //  LG_MAX_WAITING_MB: their bytes, in MiB
    int64_t max_queue_ms;       //  LG_MAX_QUEUE_MS: how long one may wait before it is run
    int log_level;              //  LG_LOG_LEVEL
} lg_config_t;

//  Fill cfg for the service; its default request port comes from the
//  table in DESIGN.md. 0 ok, -1 with why (the variable and the value).
int lg_config_load (lg_config_t *cfg, const char *service, char *why, size_t why_size);

//  Default request port of a service, or -1 if unknown.
int lg_config_default_port (const char *service);

//  LG_WORKERS when unset: the online processors, at least 2, at most 64.
int64_t lg_config_default_workers (void);

//  Copy a variable's value, or dflt when it is not set (NULL dflt: it must
//  be set), into dest; -1 and why when it is unset without a default, does
//  not fit, or is empty and not allow_empty.
int lg_config_string (const char *name, const char *dflt, bool allow_empty,
                      char *dest, size_t dest_size, char *why, size_t why_size);

//  Read one variable as a bounded integer; -1 and why when malformed.
int lg_config_int (const char *name, int64_t dflt, int64_t min, int64_t max,
                   int64_t *value, char *why, size_t why_size);

//  Self test
void lg_config_test (bool verbose);

#endif
