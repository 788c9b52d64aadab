/*  Integration test of lg_outbox_append_many against the real test cluster:
    events appended together get the seqs, header and HMAC chain that one
    lg_outbox_append per event gives, interleaved with single appends, and a
    rollback leaves neither rows nor a moved head (X.1).
*/
#include "lg_test.h"

static const lg_migration_t s_none [] = { { 0, NULL, NULL } };
static char *s_admin;
static char s_key_file [64];
static const char *s_key_hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static int
s_setup (void **state)
{
    (void) state;
    lg_test_require_pg ();
    s_admin = lg_test_db_new ("outbox");
    assert_non_null (s_admin);
    snprintf (s_key_file, sizeof s_key_file, "/tmp/lg-outbox-key-XXXXXX");
    int fd = mkstemp (s_key_file);
    assert_true (fd >= 0);
    assert_true (write (fd, s_key_hex, strlen (s_key_hex)) == (ssize_t) strlen (s_key_hex));
    close (fd);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    unlink (s_key_file);
    lg_test_db_drop (&s_admin);
    return 0;
}

//  A small event: a credit note naming i
static void
s_event (lg_event_t *event, Lgwan__V1__CreditNoteIssued *issued, Lgwan__V1__CreditNote *note,
         char *number, size_t size, int i)
{
    snprintf (number, size, "CN-2026-%06d", i);
    lgwan__v1__credit_note__init (note);
    note->number = number;
    note->amount_yen = i;
    lgwan__v1__credit_note_issued__init (issued);
    issued->credit_note = note;
    lgwan__v1__event__init (event);
    event->body_case = LGWAN__V1__EVENT__BODY_CREDIT_NOTE_ISSUED;
    event->credit_note_issued = issued;
}

//  Recompute the chain from the rows: every hash from the previous one
static void
s_check_chain (lg_db_t *db, long rows)
{
    uint8_t key [64];
    size_t key_size;
    assert_int_equal (lg_outbox_load_key (s_key_file, key, &key_size), 0);
    PGresult *res = lg_db_exec (db, "SELECT seq, event, prev_hash, hash FROM outbox ORDER BY seq",
                                0, NULL);
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    assert_int_equal (PQntuples (res), rows);
    uint8_t prev [32];
    size_t prev_size = 0;
    for (int row = 0; row < PQntuples (res); row++) {
        assert_int_equal (atol (lg_db_value (res, row, "seq")), row + 1);
        size_t event_size, stored_prev_size, hash_size;
        uint8_t *event = lg_db_bytes (res, row, "event", &event_size);
        uint8_t *stored_prev = lg_db_bytes (res, row, "prev_hash", &stored_prev_size);
        uint8_t *hash = lg_db_bytes (res, row, "hash", &hash_size);
        assert_int_equal (stored_prev_size, prev_size);
        if (prev_size)
            assert_memory_equal (stored_prev, prev, prev_size);
        uint8_t want [32];
        lg_outbox_hash (key, key_size, prev, prev_size, (uint64_t) row + 1, event, event_size, want);
        assert_int_equal (hash_size, 32);
        assert_memory_equal (hash, want, 32);
        lg_event_t *decoded = lgwan__v1__event__unpack (NULL, event_size, event);
        assert_non_null (decoded);
        assert_int_equal (decoded->seq, row + 1);
        assert_string_equal (decoded->source, "billing");
        assert_string_equal (decoded->actor, "operator:alice");
        assert_int_equal (decoded->credit_note_issued->credit_note->amount_yen, row + 1);
        lgwan__v1__event__free_unpacked (decoded, NULL);
        memcpy (prev, hash, 32);
        prev_size = 32;
        PQfreemem (event);
        if (stored_prev)
            PQfreemem (stored_prev);
        PQfreemem (hash);
    }
    PQclear (res);
    res = lg_db_exec (db, "SELECT seq, hash FROM outbox_head WHERE id = 1", 0, NULL);
    assert_int_equal (atol (lg_db_value (res, 0, "seq")), rows);
    size_t head_size;
    uint8_t *head = lg_db_bytes (res, 0, "hash", &head_size);
    assert_int_equal (head_size, prev_size);
    if (prev_size)
        assert_memory_equal (head, prev, prev_size);
    if (head)
        PQfreemem (head);
    PQclear (res);
}

//  Append events first .. first + n - 1, one by one or together
static void
s_append (lg_outbox_t *outbox, int first, int n, bool together)
{
    lg_event_t events [n];
    Lgwan__V1__CreditNoteIssued issued [n];
    Lgwan__V1__CreditNote notes [n];
    char numbers [n][32];
    lg_event_t *refs [n];
    for (int i = 0; i < n; i++) {
        s_event (&events [i], &issued [i], &notes [i], numbers [i], sizeof numbers [i], first + i);
        refs [i] = &events [i];
    }
    if (together)
        assert_int_equal (lg_outbox_append_many (outbox, refs, (size_t) n, "operator:alice", "why",
                                                 "req-1", 1792162800000000LL), 0);
    else
        for (int i = 0; i < n; i++)
            assert_int_equal (lg_outbox_append (outbox, refs [i], "operator:alice", "why", "req-1",
                                                1792162800000000LL), 0);
}

/* REQ X.1: events appended together chain exactly like single appends */
static void
test_x1_append_many_chain (void **state)
{
    (void) state;
    char *dsn = lg_test_db_service_dsn (s_admin, "billing");
    lg_db_t *db = lg_db_new (dsn, "billing");
    zstr_free (&dsn);
    assert_non_null (db);
    assert_int_equal (lg_db_migrate (db, s_none), 0);
    lg_outbox_t *outbox = lg_outbox_new ("billing", db, NULL, s_key_file, NULL, 0, 1000);
    assert_non_null (outbox);

    //  The very first events together (no previous hash), then mixed
    //  (written in three parts: the chain goes on across writes too)
    assert_int_equal (lg_db_begin (db), 0);
    s_append (outbox, 1, 3, true);
    assert_int_equal (lg_outbox_write (outbox), 0);
    s_append (outbox, 4, 2, false);
    s_append (outbox, 6, 1200, true);               //  more than one INSERT
    assert_int_equal (lg_outbox_write (outbox), 0);
    s_append (outbox, 1206, 1, false);
    assert_int_equal (lg_outbox_write (outbox), 0);
    assert_int_equal (lg_outbox_write (outbox), 0); //  nothing staged: nothing written
    assert_int_equal (lg_db_commit (db), 0);
    lg_outbox_flush (outbox);
    s_check_chain (db, 1206);

    //  A rollback leaves nothing behind
    assert_int_equal (lg_db_begin (db), 0);
    s_append (outbox, 1207, 10, true);
    assert_int_equal (lg_outbox_write (outbox), 0);
    lg_db_rollback (db);
    lg_outbox_discard (outbox);
    s_check_chain (db, 1206);
    //  Appended, then discarded before any write: nothing is left staged
    s_append (outbox, 1207, 2, true);
    lg_outbox_discard (outbox);
    assert_int_equal (lg_db_begin (db), 0);
    assert_int_equal (lg_outbox_write (outbox), 0);
    assert_int_equal (lg_db_commit (db), 0);
    s_check_chain (db, 1206);
    //  Nothing appended is a no-op
    assert_int_equal (lg_outbox_append_many (outbox, NULL, 0, "", "", "", 0), 0);

    lg_outbox_destroy (&outbox);
    lg_db_destroy (&db);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_x1_append_many_chain),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
