/*  lg_auth - CurveZMQ on every TCP socket, and who is calling.

    See lg_auth.h for the folder layout. Design notes:
    1. zauth owns the ZAP handler of the process (one per ZeroMQ context), so
       there is one lg_auth per process.
    2. zauth only runs at the handshake. A connection opened before its
       certificate was revoked would live on, so lg_auth_caller looks the
       public key up again in our own copy of allowed/, reloaded when the
       folder's mtime or entry count changes: one stat() per request.
    3. The role comes from the certificate metadata that zauth put in its ZAP
       reply and libzmq attached to every frame of the connection; so does an
       enforcer's point, which keygen requires of that role alone. A point
       that is not a point name makes the caller unknown, as a provider id
       that is not a number does.
*/
#include "lg_lib.h"
#include <sys/stat.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>

struct _lg_auth_t {
    zactor_t *zauth;
    char *cert_dir;
    char *allowed_dir;
    zhashx_t *allowed;          //  public key -> (void *) 1
    struct timespec mtime;      //  of allowed/ when loaded
    nlink_t nlink;
    int64_t loaded_at_ns;       //  wall clock when that reload began
    uint64_t removals;          //  reloads that found a key gone (lg_auth_removals)
};

static const struct {
    const char *name;
    int bit;
} s_roles [] = {
    { "operator", LG_ROLE_OPERATOR },
    { "reviewer", LG_ROLE_REVIEWER },
    { "auditor",  LG_ROLE_AUDITOR },
    { "provider", LG_ROLE_PROVIDER },
    { "billing",  LG_ROLE_BILLING },
    { "sensor",   LG_ROLE_SENSOR },
    { "enforcer", LG_ROLE_ENFORCER },
    { "viewer",   LG_ROLE_VIEWER },
    { "service",  LG_ROLE_SERVICE }
};

int
lg_role_parse (const char *name)
{
    for (size_t i = 0; name && i < sizeof s_roles / sizeof s_roles [0]; i++)
        if (streq (name, s_roles [i].name))
            return s_roles [i].bit;
    return 0;
}

const char *
lg_role_name (int role)
{
    for (size_t i = 0; i < sizeof s_roles / sizeof s_roles [0]; i++)
        if (role == s_roles [i].bit)
            return s_roles [i].name;
    return NULL;
}

static bool
s_valid_name (const char *name, size_t max)
{
    size_t len = name? strlen (name): 0;
    if (len == 0 || len > max || name [0] == '.')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum ((unsigned char) name [i]) && !strchr ("._-@", name [i]))
            return false;
    return true;
}

//  A reload that lost a key it had counts as a removal; before is dropped
static void
s_count_removals (lg_auth_t *self, zhashx_t **before_p)
{
    for (void *item = zhashx_first (*before_p); item; item = zhashx_next (*before_p))
        if (!zhashx_lookup (self->allowed, zhashx_cursor (*before_p))) {
            self->removals++;
            break;
        }
    zhashx_destroy (before_p);
}

//  Reload our copy of allowed/ if the folder changed since we last read it
static void
s_refresh (lg_auth_t *self)
{
    struct stat st;
    if (stat (self->allowed_dir, &st)) {
        zhashx_t *before = self->allowed;   //  folder gone: nobody is allowed
        self->allowed = zhashx_new ();
        s_count_removals (self, &before);
        memset (&self->mtime, 0, sizeof self->mtime);
        return;
    }
    //  The kernel stamps mtime from a coarse clock (a tick of up to 10 ms): a
    //  change in the same tick as our last reload leaves it equal. So the
    //  copy is trusted only when that reload began more than a tick after
    //  the mtime (git's "racy clean"); the folder is read again otherwise,
    //  by the requests of those few milliseconds only
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    int64_t mtime_ns = (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (st.st_mtim.tv_sec == self->mtime.tv_sec && st.st_mtim.tv_nsec == self->mtime.tv_nsec
    &&  st.st_nlink == self->nlink && zhashx_size (self->allowed)
    &&  self->loaded_at_ns - mtime_ns > 20 * 1000000)
        return;
    self->loaded_at_ns = (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
    self->mtime = st.st_mtim;
    self->nlink = st.st_nlink;
    zhashx_t *before = self->allowed;
    self->allowed = zhashx_new ();
    DIR *dir = opendir (self->allowed_dir);
    if (!dir) {
        s_count_removals (self, &before);
        return;
    }
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        size_t len = strlen (entry->d_name);
        if (entry->d_name [0] == '.' || (len > 7 && streq (entry->d_name + len - 7, "_secret")))
            continue;
        char *path = zsys_sprintf ("%s/%s", self->allowed_dir, entry->d_name);
        zcert_t *cert = path? zcert_load (path): NULL;
        if (cert)
            zhashx_update (self->allowed, zcert_public_txt (cert), (void *) 1);
        zcert_destroy (&cert);
        zstr_free (&path);
    }
    closedir (dir);
    s_count_removals (self, &before);
}

lg_auth_t *
lg_auth_new (const char *cert_dir)
{
    assert (cert_dir);
    lg_auth_t *self = (lg_auth_t *) zmalloc (sizeof (lg_auth_t));
    self->cert_dir = strdup (cert_dir);
    self->allowed_dir = zsys_sprintf ("%s/allowed", cert_dir);
    self->allowed = zhashx_new ();
    self->zauth = zactor_new (zauth, NULL);
    if (!self->zauth) {
        lg_auth_destroy (&self);
        return NULL;
    }
    zstr_sendx (self->zauth, "CURVE", self->allowed_dir, NULL);
    zsock_wait (self->zauth);
    s_refresh (self);
    return self;
}

void
lg_auth_destroy (lg_auth_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        lg_auth_t *self = *self_p;
        zactor_destroy (&self->zauth);
        zhashx_destroy (&self->allowed);
        zstr_free (&self->allowed_dir);
        zstr_free (&self->cert_dir);
        free (self);
        *self_p = NULL;
    }
}

int
lg_auth_private_ok (const char *path, char *why, size_t why_size)
{
    struct stat st;
    if (stat (path, &st)) {
        snprintf (why, why_size, "%s: %s", path, strerror (errno));
        return -1;
    }
    if (!S_ISREG (st.st_mode)) {
        snprintf (why, why_size, "%s is not a regular file", path);
        return -1;
    }
    if (st.st_uid != geteuid () && st.st_uid != 0) {
        snprintf (why, why_size, "%s is a secret owned by user %u: it must be owned by this"
                  " process's user (%u) or root", path, (unsigned) st.st_uid,
                  (unsigned) geteuid ());
        return -1;
    }
    //  libpq's rule for its client key, which covers a process running as
    //  root too: a file root owns may be read by its group, whoever the
    //  process (a secret shared on purpose, root:lgwan 0640, by the services
    //  of a container's user and by root's own processes); any other file
    //  by its owner alone
    bool by_root = st.st_uid == 0;
    if (by_root? (st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO)): (st.st_mode & (S_IRWXG | S_IRWXO))) {
        snprintf (why, why_size, "%s is a secret others may read or change (mode %04o): it must"
                  " be %s (chmod %s %s)", path, (unsigned) (st.st_mode & 07777),
                  by_root? "u=rw,g=r (0640) or less, owned as it is by root":
                           "u=rw (0600) or less, owned as it is by this process's user",
                  by_root? "640": "600", path);
        return -1;
    }
    return 0;
}

//  The file zcert_load takes the secret key from: <path>_secret when there
//  is one, else path itself (a secret file given by its own name)
static int
s_secret_ok (const char *path)
{
    char *secret = zsys_sprintf ("%s_secret", path);
    char why [512];
    int rc = lg_auth_private_ok (zsys_file_exists (secret)? secret: path, why, sizeof why);
    if (rc)
        lg_log_write (LG_LOG_ERROR, why, "a secret key is not used");
    zstr_free (&secret);
    return rc;
}

int
lg_auth_server (lg_auth_t *self, zsock_t *sock, const char *service)
{
    char *path = zsys_sprintf ("%s/services/%s", self->cert_dir, service);
    zcert_t *cert = s_secret_ok (path) == 0? zcert_load (path): NULL;
    if (!cert) {
        lg_log_write (LG_LOG_ERROR, path, "could not load the key pair of service %s", service);
        zstr_free (&path);
        return -1;
    }
    zstr_free (&path);
    zcert_apply (cert, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, "lgwan");
    zcert_destroy (&cert);
    return 0;
}

uint64_t
lg_auth_removals (lg_auth_t *self)
{
    s_refresh (self);
    return self->removals;
}

int
lg_auth_caller (lg_auth_t *self, zframe_t *frame, lg_caller_t *caller)
{
    memset (caller, 0, sizeof *caller);
    const char *key = zframe_meta (frame, "User-Id");
    const char *role = zframe_meta (frame, "role");
    if (!key || strlen (key) != 40 || !role)
        return -1;
    s_refresh (self);
    if (!zhashx_lookup (self->allowed, key))
        return -1;                          //  revoked since it connected
    memcpy (caller->public_key, key, 41);
    caller->role = lg_role_parse (role);
    snprintf (caller->role_name, sizeof caller->role_name, "%s", role);
    const char *provider = zframe_meta (frame, "provider_id");
    if (provider) {
        char *end;
        errno = 0;
        unsigned long long id = strtoull (provider, &end, 10);
        if (errno || *end || end == provider)
            return -1;
        caller->provider_id = id;
    }
    const char *op = zframe_meta (frame, "operator_id");
    if (op)
        snprintf (caller->operator_id, sizeof caller->operator_id, "%s", op);
    const char *point = zframe_meta (frame, "point");
    if (point) {
        if (!lg_check_point_name (point))
            return -1;
        snprintf (caller->point, sizeof caller->point, "%s", point);
    }
    if (caller->role == 0
    || (caller->role == LG_ROLE_PROVIDER && caller->provider_id == 0))
        return -1;
    return 0;
}

int
lg_auth_client (zsock_t *sock, const char *client_cert_path, const char *server_cert_path)
{
    zcert_t *client = client_cert_path && s_secret_ok (client_cert_path) == 0?
                      zcert_load (client_cert_path): NULL;
    zcert_t *server = server_cert_path? zcert_load (server_cert_path): NULL;
    int rc = -1;
    if (!client || !server)
        goto cleanup;
    if (streq (zcert_secret_txt (client), "0000000000000000000000000000000000000000"))
        goto cleanup;                       //  a public certificate, no secret
    zcert_apply (client, sock);
    zsock_set_curve_serverkey (sock, zcert_public_txt (server));
    rc = 0;
cleanup:
    zcert_destroy (&client);
    zcert_destroy (&server);
    return rc;
}

//  ZMTP metadata as zauth copies it: per property 1 + name + 4 + value bytes
static size_t
s_meta_size (zcert_t *cert)
{
    size_t size = 0;
    zlist_t *keys = zcert_meta_keys (cert);
    for (const char *k = (const char *) zlist_first (keys); k; k = (const char *) zlist_next (keys))
        size += 1 + strlen (k) + 4 + strlen (zcert_meta (cert, k));
    zlist_destroy (&keys);
    return size;
}

static int
s_mkdirs (const char *cert_dir, const char *sub)
{
    char *path = zsys_sprintf ("%s/%s", cert_dir, sub);
    int rc = zsys_dir_create ("%s", path);
    zstr_free (&path);
    return rc;
}

//  Write the file zcert saved at from (a private folder) to a new file at
//  to, with mode: never over a file there, never through a symbolic link
//  (O_EXCL | O_NOFOLLOW). 0, or -1 with errno
static int
s_copy_new (const char *from, const char *to, mode_t mode)
{
    zchunk_t *chunk = NULL;
    zfile_t *file = zfile_new (NULL, from);
    if (file && zfile_input (file) == 0)
        chunk = zfile_read (file, (size_t) zfile_cursize (file), 0);
    zfile_destroy (&file);
    if (!chunk) {
        errno = EIO;
        return -1;
    }
    int fd = open (to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    int rc = fd < 0? -1: 0;
    if (fd >= 0) {
        size_t done = 0, size = zchunk_size (chunk);
        while (rc == 0 && done < size) {
            ssize_t wrote = write (fd, zchunk_data (chunk) + done, size - done);
            if (wrote < 0 && errno != EINTR)
                rc = -1;
            else
            if (wrote > 0)
                done += (size_t) wrote;
        }
        int saved = errno;
        if (fchmod (fd, mode) || close (fd))
            rc = -1;
        else
            errno = saved;
        if (rc)
            unlink (to);
    }
    zchunk_destroy (&chunk);
    return rc;
}

//  The metadata a client certificate carries for its role: required for
//  the roles named, refused for every other (lg_auth_keygen: a usage
//  error, -2). keygen's flag is the name with '-' for '_'
static const struct {
    const char *flag;           //  as lgwanctl keygen takes it
    const char *what;           //  for "only ... carries WHAT"
    int roles;                  //  lg_role_t bits that carry it
    const char *holders;        //  those roles, said
} s_role_metadata [] = {
    { "--provider-id", "a provider id", LG_ROLE_PROVIDER, "a provider" },
    { "--operator-id", "an operator id", LG_ROLE_STAFF, "an operator, reviewer or auditor" },
    { "--point", "a point", LG_ROLE_ENFORCER, "an enforcer" },
};

int
lg_auth_keygen_fits (const char *role, const char *provider_id, const char *operator_id,
                     const char *point, char *why, size_t why_size)
{
    int bit = lg_role_parse (role);
    if (!bit) {
        snprintf (why, why_size, "unknown role \"%s\" (operator, reviewer, auditor, provider,"
                  " billing, sensor, enforcer, viewer or service)", role? role: "");
        return -2;
    }
    //  Given (a flag with an empty value too) and with a value, in the
    //  order of s_role_metadata
    const char *values [] = { provider_id, operator_id, point };
    for (size_t i = 0; i < sizeof s_role_metadata / sizeof s_role_metadata [0]; i++) {
        bool carries = (bit & s_role_metadata [i].roles) != 0;
        if (carries && !(values [i] && *values [i])) {
            //  The one point an enforcer may speak as (X.3): a name it typed
            //  in its Hello let any enforcer certificate ack for any gateway
            snprintf (why, why_size, "a%s %s certificate needs %s%s (X.3)",
                      strchr ("aeiou", *role)? "n": "", role, s_role_metadata [i].flag,
                      bit == LG_ROLE_ENFORCER? ", the enforcement point it speaks as": "");
            return -2;
        }
        if (!carries && values [i]) {
            snprintf (why, why_size, "only %s certificate carries %s (%s), not a%s %s"
                      " certificate (X.3)", s_role_metadata [i].holders,
                      s_role_metadata [i].what, s_role_metadata [i].flag,
                      strchr ("aeiou", *role)? "n": "", role);
            return -2;
        }
    }
    return 0;
}

int
lg_auth_keygen (const char *cert_dir, const char *dir_out, const char *name, const char *role,
                uint64_t provider_id, const char *operator_id, const char *point,
                char *why, size_t why_size)
{
    char digits [24];
    snprintf (digits, sizeof digits, "%" PRIu64, provider_id);
    if (lg_auth_keygen_fits (role, provider_id? digits: NULL, operator_id, point, why, why_size))
        return -2;
    if (!s_valid_name (name, 64)) {
        snprintf (why, why_size, "certificate name must be 1-64 of [A-Za-z0-9._-@]");
        return -1;
    }
    if (operator_id && *operator_id && !s_valid_name (operator_id, 63)) {
        snprintf (why, why_size, "operator id must be 1-63 of [A-Za-z0-9._-@]");
        return -1;
    }
    bool has_point = point && *point;
    if (has_point && !lg_check_point_name (point)) {
        snprintf (why, why_size, "point must be 1-%d of [a-z0-9-], as an enforcement point's"
                  " name is", LG_POINT_NAME_MAX);
        return -1;
    }
    zcert_t *cert = zcert_new ();
    if (!cert) {
        snprintf (why, why_size, "could not create a key pair");
        return -1;
    }
    zcert_set_meta (cert, "role", "%s", role);
    if (provider_id)
        zcert_set_meta (cert, "provider_id", "%" PRIu64, provider_id);
    if (operator_id && *operator_id)
        zcert_set_meta (cert, "operator_id", "%s", operator_id);
    if (has_point)
        zcert_set_meta (cert, "point", "%s", point);
    if (s_meta_size (cert) > LG_META_MAX) {
        snprintf (why, why_size, "certificate metadata of %zu bytes is over zauth's %d",
                  s_meta_size (cert), LG_META_MAX);
        zcert_destroy (&cert);
        return -1;
    }
    //  Three new files, or none (X.3): the secret (0600) and public part in
    //  dir_out, then allowed/<name> last, which lets the key in. A file
    //  there already, or a symbolic link, is refused before anything is
    //  written: keygen wrote over an existing secret keeping its mode
    //  (world-readable), through a link, or over another name's secret
    //  (--name alice_secret)
    int rc = -1;
    char *pub = zsys_sprintf ("%s/allowed/%s", cert_dir, name);
    char *mine = zsys_sprintf ("%s/%s", dir_out, name);
    char *secret = zsys_sprintf ("%s/%s_secret", dir_out, name);
    char *staged = NULL;
    char folder [] = "/tmp/lgwan-keygen-XXXXXX";
    bool made = false;
    const char *const paths [] = { secret, mine, pub };
    for (size_t i = 0; i < 3; i++) {
        struct stat st;
        if (lstat (paths [i], &st) == 0) {
            snprintf (why, why_size, i == 2? "a certificate named %s is already allowed;"
                      " nothing written (X.3)": "%s exists: keygen writes no certificate over"
                      " a file; nothing written (X.3)", i == 2? name: paths [i]);
            goto cleanup;
        }
    }
    if (s_mkdirs (cert_dir, "allowed") || zsys_dir_create ("%s", dir_out)) {
        snprintf (why, why_size, "could not create %s: %s", dir_out, strerror (errno));
        goto cleanup;
    }
    //  zcert writes the files in a folder of our own, copied from there
    made = mkdtemp (folder) != NULL;
    staged = made? zsys_sprintf ("%s/cert", folder): NULL;
    if (!staged || zcert_save (cert, staged)) {
        snprintf (why, why_size, "could not create a key pair in %s: %s", folder,
                  strerror (errno));
        goto cleanup;
    }
    char *staged_secret = zsys_sprintf ("%s_secret", staged);
    const char *what = secret;
    bool secret_done = false, mine_done = false;
    if (s_copy_new (staged_secret, secret, 0600) == 0
    &&  (secret_done = true, what = mine, s_copy_new (staged, mine, 0644) == 0)
    &&  (mine_done = true, what = pub, s_copy_new (staged, pub, 0644) == 0))
        rc = 0;
    else {
        snprintf (why, why_size, "could not write %s: %s%s", what, strerror (errno),
                  errno == EEXIST || errno == ELOOP? " (X.3: keygen writes no certificate"
                  " over a file)": "");
        if (mine_done)
            unlink (mine);
        if (secret_done)
            unlink (secret);
    }
    unlink (staged_secret);
    zstr_free (&staged_secret);
cleanup:
    if (staged)
        unlink (staged);
    if (made)
        rmdir (folder);
    zstr_free (&staged);
    zstr_free (&pub);
    zstr_free (&mine);
    zstr_free (&secret);
    zcert_destroy (&cert);
    return rc;
}

int
lg_auth_service_keygen (const char *cert_dir, const char *service)
{
    if (!s_valid_name (service, 31))
        return -1;
    char *path = zsys_sprintf ("%s/services/%s", cert_dir, service);
    char *secret = zsys_sprintf ("%s_secret", path);
    char *hmac = zsys_sprintf ("%s.hmac", path);
    char *allowed = zsys_sprintf ("%s/allowed/service-%s", cert_dir, service);
    int rc = 0;
    if (!zsys_file_exists (secret)) {
        zcert_t *cert = zcert_new ();
        zcert_set_meta (cert, "role", "service");
        zcert_set_meta (cert, "operator_id", "%s", service);
        if (s_mkdirs (cert_dir, "services") || s_mkdirs (cert_dir, "allowed")
        ||  zcert_save (cert, path) || zcert_save_public (cert, allowed))
            rc = -1;
        zcert_destroy (&cert);
    }
    if (rc == 0 && !zsys_file_exists (hmac)) {
        //  The outbox chain key: 32 random bytes, hex, readable by the owner only
        unsigned char key [32];
        FILE *file = NULL;
        int fd = RAND_bytes (key, sizeof key) == 1?
                 open (hmac, O_WRONLY | O_CREAT | O_EXCL, 0600): -1;
        if (fd >= 0)
            file = fdopen (fd, "w");
        if (file) {
            for (size_t i = 0; i < sizeof key; i++)
                fprintf (file, "%02x", key [i]);
            fprintf (file, "\n");
            fclose (file);
        }
        else {
            if (fd >= 0)
                close (fd);
            rc = -1;
        }
        OPENSSL_cleanse (key, sizeof key);
    }
    zstr_free (&path);
    zstr_free (&secret);
    zstr_free (&hmac);
    zstr_free (&allowed);
    return rc;
}

int
lg_auth_revoke (const char *cert_dir, const char *name, char *why, size_t why_size)
{
    if (!s_valid_name (name, 64)) {
        snprintf (why, why_size, "certificate name must be 1-64 of [A-Za-z0-9._-@]");
        return -1;
    }
    char *from = zsys_sprintf ("%s/allowed/%s", cert_dir, name);
    char *to = zsys_sprintf ("%s/revoked/%s", cert_dir, name);
    char *earlier = NULL;
    int rc = -1;
    struct stat st;
    if (!zsys_file_exists (from)) {
        snprintf (why, why_size, "no allowed certificate named %s", name);
        goto cleanup;
    }
    if (s_mkdirs (cert_dir, "revoked")) {
        snprintf (why, why_size, "could not create %s/revoked: %s", cert_dir, strerror (errno));
        goto cleanup;
    }
    //  An earlier revocation of the name stays on record as <name>.<n>, the
    //  first n free (link takes no name that exists): the rename below then
    //  replaces only its other name
    for (int n = 1; lstat (to, &st) == 0; n++) {
        earlier = zsys_sprintf ("%s.%d", to, n);
        if (link (to, earlier) == 0)
            break;
        int error = errno;
        zstr_free (&earlier);
        if (error != EEXIST || n == 9999) {
            snprintf (why, why_size, "could not keep the earlier %s as %s.%d: %s; nothing"
                      " moved", to, to, n, strerror (error));
            goto cleanup;
        }
    }
    if (rename (from, to)) {
        snprintf (why, why_size, "could not move %s: %s", from, strerror (errno));
        if (earlier)
            unlink (earlier);               //  it is still revoked/<name>
        goto cleanup;
    }
    rc = 0;
cleanup:
    zstr_free (&earlier);
    zstr_free (&from);
    zstr_free (&to);
    return rc;
}

//  --------------------------------------------------------------------------
//  Self test: a first example of use

void
lg_auth_test (bool verbose)
{
    if (verbose)
        printf (" * lg_auth: ");
    char why [256];
    char dir [] = "/tmp/lg_auth_test_XXXXXX";
    assert (mkdtemp (dir));
    char *clients = zsys_sprintf ("%s/clients", dir);
    assert (lg_auth_service_keygen (dir, "registry") == 0);
    assert (lg_auth_keygen (dir, clients, "alice", "operator", 0, "alice", NULL, why, sizeof why) == 0);
    assert (lg_auth_keygen (dir, clients, "bad", "king", 0, NULL, NULL, why, sizeof why) == -2);
    //  An enforcer names its point, and only an enforcer does (X.3); so
    //  with a provider's id and an operator's: -2, what the role does not
    //  take or lacks
    assert (lg_auth_keygen (dir, clients, "gw", "enforcer", 0, NULL, NULL, why, sizeof why) == -2);
    assert (strstr (why, "needs --point"));
    assert (lg_auth_keygen (dir, clients, "gw", "enforcer", 0, NULL, "East", why, sizeof why) == -1);
    assert (strstr (why, "point must be"));
    assert (lg_auth_keygen (dir, clients, "gw", "viewer", 0, NULL, "east", why, sizeof why) == -2);
    assert (strstr (why, "only an enforcer"));
    assert (lg_auth_keygen (dir, clients, "gw", "viewer", 0, "", NULL, why, sizeof why) == -2);
    assert (strstr (why, "only an operator, reviewer or auditor certificate"));
    assert (lg_auth_keygen (dir, clients, "gw", "operator", 0, "", NULL, why, sizeof why) == -2);
    assert (strstr (why, "an operator certificate needs --operator-id"));
    assert (lg_auth_keygen (dir, clients, "gw", "provider", 0, NULL, NULL, why, sizeof why) == -2);
    assert (lg_auth_keygen (dir, clients, "gw", "billing", 7, NULL, NULL, why, sizeof why) == -2);
    assert (lg_auth_keygen (dir, clients, "gw", "enforcer", 0, NULL, "east", why, sizeof why) == 0);
    char *gw = zsys_sprintf ("%s/allowed/gw", dir);
    zcert_t *made = zcert_load (gw);
    assert (made && zcert_meta (made, "point") && streq (zcert_meta (made, "point"), "east"));
    zcert_destroy (&made);
    zstr_free (&gw);
    assert (lg_role_parse ("viewer") == LG_ROLE_VIEWER);
    //  Removals are counted however fast they follow each other; a new key is
    //  not one
    lg_auth_t *auth = lg_auth_new (dir);
    assert (auth);
    assert (lg_auth_keygen (dir, clients, "bob", "viewer", 0, NULL, NULL, why, sizeof why) == 0);
    assert (lg_auth_removals (auth) == 0);
    assert (lg_auth_revoke (dir, "alice", why, sizeof why) == 0);
    assert (lg_auth_removals (auth) == 1);
    assert (lg_auth_revoke (dir, "bob", why, sizeof why) == 0);
    assert (lg_auth_removals (auth) == 2);
    assert (lg_auth_removals (auth) == 2);
    lg_auth_destroy (&auth);
    assert (lg_auth_revoke (dir, "alice", why, sizeof why) == -1);

    //  Note 4: secrets as made are private; loosened, they are refused
    char *secret = zsys_sprintf ("%s/alice_secret", clients);
    char *key = zsys_sprintf ("%s/services/registry.hmac", dir);
    assert (lg_auth_private_ok (secret, why, sizeof why) == 0);
    assert (lg_auth_private_ok (key, why, sizeof why) == 0);
    assert (chmod (secret, 0644) == 0);
    assert (lg_auth_private_ok (secret, why, sizeof why) == -1);
    assert (strstr (why, "mode 0644") && strstr (why, geteuid () == 0? "chmod 640": "chmod 600"));
    assert (chmod (secret, 0604) == 0);
    assert (lg_auth_private_ok (secret, why, sizeof why) == -1);
    assert (chmod (secret, 0400) == 0);
    assert (lg_auth_private_ok (secret, why, sizeof why) == 0);
    assert (chmod (key, 0660) == 0);
    assert (lg_auth_private_ok (key, why, sizeof why) == -1);
    //  Its group may read a file root owns, also when root reads it (libpq's
    //  rule); nobody's group may read the file of another owner
    assert (chmod (key, 0640) == 0);
    assert (lg_auth_private_ok (key, why, sizeof why) == (geteuid () == 0? 0: -1));
    if (geteuid () == 0) {
        //  Owned by someone else (neither this process's user nor root)
        assert (chmod (key, 0600) == 0);
        assert (chown (key, 12345, 0) == 0);
        assert (lg_auth_private_ok (key, why, sizeof why) == -1);
        assert (strstr (why, "owned by user 12345"));
    }
    assert (lg_auth_private_ok (clients, why, sizeof why) == -1);
    assert (strstr (why, "not a regular file"));
    assert (lg_auth_private_ok ("/nonexistent/lgwan/key", why, sizeof why) == -1);
    zstr_free (&secret);
    zstr_free (&key);
    zstr_free (&clients);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    if (verbose)
        printf ("OK\n");
}
