/*  lg_lib.h - the one project header of the common library.

    Orders the includes and refuses to build against dependencies older than
    the ones the code was written for. Every file of ours includes this first.
*/
#ifndef LG_LIB_H_INCLUDED
#define LG_LIB_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <czmq.h>
#include <libpq-fe.h>
#include <protobuf-c/protobuf-c.h>
#include <openssl/opensslv.h>
#include <openssl/crypto.h>

#if CZMQ_VERSION < CZMQ_MAKE_VERSION (4, 2, 0)
#   error "lgwan needs czmq 4.2 or newer (frame metadata from zauth)"
#endif
#if ZMQ_VERSION < ZMQ_MAKE_VERSION (4, 3, 0)
#   error "lgwan needs libzmq 4.3 or newer"
#endif
#if PROTOBUF_C_VERSION_NUMBER < 1004000
#   error "lgwan needs protobuf-c 1.4 or newer"
#endif
#if OPENSSL_VERSION_NUMBER < 0x30000000L
#   error "lgwan needs OpenSSL 3.0 or newer"
#endif
#if !defined (PG_VERSION_NUM) && !defined (LIBPQ_HAS_PIPELINING)
#   error "lgwan needs libpq 14 or newer"
#endif

#include "lgwan/v1/envelope.pb-c.h"

//  Short names for the wire types
typedef Lgwan__V1__Request lg_request_t;
typedef Lgwan__V1__Reply   lg_reply_t;
typedef Lgwan__V1__Event   lg_event_t;
typedef Lgwan__V1__Status  lg_status_t;
typedef Lgwan__V1__Code    lg_code_t;

//  Limits of the wire contract
#define LG_MAX_MSG_DEFAULT   (1024 * 1024)  //  application bound on one frame
#define LG_REQUEST_ID_MAX    64             //  bytes of a request_id
#define LG_ACTOR_MAX         256            //  bytes of the actor a service names
#define LG_REASON_MAX        8192           //  bytes of a request's reason (2,000
                                            //  characters of Japanese, the registry's
                                            //  bound on a decision's reason)
#define LG_CLIENT_TRY_MS     2500           //  a client's wait for one try's reply (lg_client,
                                            //  lgwanctl --timeout), by default
#define LG_MAX_QUEUE_MS_DEFAULT (LG_CLIENT_TRY_MS + 500)    //  how long a request may wait
                                            //  for a busy worker and still run (LG_MAX_QUEUE_MS,
                                            //  lg_server.h point 7): a little over a client's
                                            //  try; a consumer's Replay waits longer (lg_consumer.c)

//  Roles carried in certificate metadata, as bits for dispatch tables
typedef enum {
    LG_ROLE_OPERATOR = 1 << 0,
    LG_ROLE_REVIEWER = 1 << 1,
    LG_ROLE_AUDITOR  = 1 << 2,
    LG_ROLE_PROVIDER = 1 << 3,
    LG_ROLE_BILLING  = 1 << 4,
    LG_ROLE_SENSOR   = 1 << 5,
    LG_ROLE_ENFORCER = 1 << 6,
    LG_ROLE_VIEWER   = 1 << 7,
    LG_ROLE_SERVICE  = 1 << 8
} lg_role_t;
#define LG_ROLE_STAFF    (LG_ROLE_OPERATOR | LG_ROLE_REVIEWER | LG_ROLE_AUDITOR)
#define LG_ROLE_READERS  (LG_ROLE_STAFF | LG_ROLE_VIEWER | LG_ROLE_SERVICE)
#define LG_ROLE_ANY      0x1ff

typedef struct _lg_db_t     lg_db_t;
typedef struct _lg_auth_t   lg_auth_t;
typedef struct _lg_server_t lg_server_t;
typedef struct _lg_client_t lg_client_t;
typedef struct _lg_outbox_t lg_outbox_t;

#include "lg_log.h"
#include "lg_clock.h"
#include "lg_check.h"
#include "lg_codec.h"
#include "lg_pbjson.h"
#include "lg_auth.h"
#include "lg_db.h"
#include "lg_config.h"
#include "lg_fault.h"
#include "lg_server.h"
#include "lg_outbox.h"
#include "lg_consumer.h"
#include "lg_verify.h"
#include "lg_reference.h"
#include "lg_client.h"
#include "lg_service.h"

#endif
