/*  lg_auth - CurveZMQ on every TCP socket, and who is calling.

    Layout of a certificate folder (LG_CERT_DIR):
        allowed/<name>        public certificates of clients that may connect;
                              metadata: role, and provider_id, operator_id or
                              (role enforcer) point
        allowed/<name>_secret never here: the client keeps its own secret
        revoked/<name>        certificates taken out by `lgwanctl cert revoke`
                              (revoked/<name>.<n>: the name's earlier ones)
        services/<svc>[_secret] the servers' own key pairs

    1. zauth checks every new connection against allowed/ (it reloads the
       folder when it changes), so an unknown key gets no connection at all.
    2. A connection opened before a revocation stays open in libzmq, so every
       request is looked up again by its public key (the ZAP User-Id), on
       arrival and again when it leaves a queue for the workers (lg_server);
       the store is reloaded when the folder's mtime moves, one stat per lookup.
    3. Role and ids come from the certificate's metadata as zauth handed it
       to the frame (zframe_meta), never from fields a client typed. An
       enforcer's certificate names the one enforcement point it may speak
       as (`point`): the name an enforcer types in its Hello counts only
       when it is that one (X.3).
    4. A secret (a key pair's secret file, an outbox HMAC key) that others
       could read is refused, not used: whoever read it can speak as its
       owner or forge the tamper evidence. The rule is libpq's for its
       client key: owned by root and u=rw,g=r (0640) or less, whoever the
       process (root too: a secret root shares with a group on purpose,
       such as the containers' user in docker-compose.yml), or owned by the
       process's user and u=rw (0600) or less (lg_auth_private_ok).
*/
#ifndef LG_AUTH_H_INCLUDED
#define LG_AUTH_H_INCLUDED

#define LG_META_MAX 512     //  zauth copies metadata into a buffer of this size

typedef struct {
    int role;                   //  one lg_role_t bit, 0 when unknown
    char role_name [16];
    uint64_t provider_id;       //  role provider: the provider it speaks for
    char operator_id [64];      //  staff roles: who (operator, reviewer, auditor)
    char point [LG_POINT_NAME_MAX + 1];     //  role enforcer: the point it is; "" if none
    char public_key [41];       //  Z85 public key: the caller's identity
} lg_caller_t;

//  Start zauth for CURVE with the allowed/ folder under cert_dir.
lg_auth_t *lg_auth_new (const char *cert_dir);
void lg_auth_destroy (lg_auth_t **self_p);

//  Note 4: 0 when the file at path is a regular file only its owner (this
//  process's user, or root with read access for its group, whoever the
//  process) may read;
//  otherwise -1 and why says what is wrong and how to put it right.
int lg_auth_private_ok (const char *path, char *why, size_t why_size);

//  Make sock a CURVE server with the key pair in services/<service>_secret
//  (note 4).
int lg_auth_server (lg_auth_t *self, zsock_t *sock, const char *service);

//  Who sent this frame; 0 ok, -1 no metadata or revoked since it connected.
int lg_auth_caller (lg_auth_t *self, zframe_t *frame, lg_caller_t *caller);

//  How many times allowed/ was found to have lost a certificate (revoked,
//  removed) since start; a caller that keeps connections open past the
//  handshake (a PUB socket) drops them when this moves (note 2).
uint64_t lg_auth_removals (lg_auth_t *self);

//  Role name <-> bit; 0 / NULL when unknown.
int lg_role_parse (const char *name);
const char *lg_role_name (int role);

//  Make sock a CURVE client with its own certificate file (secret; note 4)
//  against the server's public certificate file. 0 ok, -1 unreadable keys,
//  said in the log.
int lg_auth_client (zsock_t *sock, const char *client_cert_path, const char *server_cert_path);

//  Create a key pair for a client: public part in allowed/<name>, secret in
//  dir_out/<name>_secret. A role it does not know, and metadata that does
//  not fit the role, are -2 (a usage error): a provider certificate needs
//  provider_id (not 0), an operator, reviewer or auditor certificate
//  operator_id, an enforcer certificate its point, and every other role is
//  refused each of them (an empty operator_id or point given too: NULL is
//  none). Refuses (-1) a name that is not [A-Za-z0-9._-@], a point not
//  [a-z0-9-]{1,32} (lg_check_point_name), metadata over LG_META_MAX bytes.
//  Writes new files only (secret 0600, public 0644, allowed/<name>
//  last): refuses, writing nothing, when any of the three exists, also as
//  a symbolic link (X.3); removes what it wrote when a later one fails.
//  0 ok, -1 or -2 with why.
//  Whether a client certificate of role takes the flags given, as
//  lg_auth_keygen decides it before anything else: each of provider_id
//  (as typed), operator_id and point is required for its roles and refused
//  for every other; NULL is not given, an empty value is given but counts as
//  missing where required. 0 fits; -2 with why, an unknown role too. Lets a
//  caller tell a flag the role does not take (usage) before it parses the
//  flag's value.
int lg_auth_keygen_fits (const char *role, const char *provider_id, const char *operator_id,
                         const char *point, char *why, size_t why_size);

int lg_auth_keygen (const char *cert_dir, const char *dir_out, const char *name,
                    const char *role, uint64_t provider_id, const char *operator_id,
                    const char *point, char *why, size_t why_size);

//  Create the key pair of a service in services/ (idempotent).
int lg_auth_service_keygen (const char *cert_dir, const char *service);

//  Move allowed/<name> to revoked/<name>; an earlier revocation of the name
//  found there is kept as revoked/<name>.<n> (n = 1, 2, ...: the first
//  free). 0 ok, -1 with why (no such certificate, a file not moved).
int lg_auth_revoke (const char *cert_dir, const char *name, char *why, size_t why_size);

//  Self test
void lg_auth_test (bool verbose);

#endif
