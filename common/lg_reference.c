/*  lg_reference - read a list of local government codes (see lg_reference.h). */
#include "lg_lib.h"

#define MAX_LINE  4096
#define MAX_ROWS  100000

//  Split one CSV line into at most max fields (in place); returns the count
//  or -1 when a quote is not closed
static int
s_split (char *line, char **fields, int max)
{
    int count = 0;
    char *in = line;
    while (count < max) {
        char *out = in;
        fields [count++] = out;
        if (*in == '"') {
            in++;
            while (true) {
                if (!*in)
                    return -1;
                if (*in == '"' && in [1] == '"') {
                    *out++ = '"';
                    in += 2;
                }
                else
                if (*in == '"') {
                    in++;
                    break;
                }
                else
                    *out++ = *in++;
            }
        }
        else
            while (*in && *in != ',')
                *out++ = *in++;
        char next = *in;
        *out = 0;
        if (next != ',')
            return count;
        in++;
    }
    return count + 1;           //  more fields than asked
}

Lgwan__V1__ReferenceLoad *
lg_reference_read (const char *path, char *why, size_t why_size)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (why, why_size, "cannot read %s: %s", path, strerror (errno));
        return NULL;
    }
    Lgwan__V1__ReferenceLoad *list = (Lgwan__V1__ReferenceLoad *) malloc (sizeof *list);
    lgwan__v1__reference_load__init (list);
    list->source = strdup (path);
    size_t capacity = 2048;
    list->entries = (Lgwan__V1__LocalGovernment **) calloc (capacity, sizeof (void *));
    char line [MAX_LINE];
    int number = 0;
    bool failed = false;
    while (!failed && fgets (line, sizeof line, file)) {
        number++;
        size_t len = strlen (line);
        if (len == sizeof line - 1 && line [len - 1] != '\n') {
            snprintf (why, why_size, "%s:%d: line longer than %d bytes", path, number, MAX_LINE);
            failed = true;
            break;
        }
        while (len && (line [len - 1] == '\n' || line [len - 1] == '\r'))
            line [--len] = 0;
        //  A UTF-8 byte order mark before the first line ("CSV UTF-8" as
        //  Excel saves it) is no part of the header
        if (number == 1 && len >= 3 && memcmp (line, "\xef\xbb\xbf", 3) == 0) {
            len -= 3;
            memmove (line, line + 3, len + 1);
        }
        if (len == 0)
            continue;
        char *fields [5];
        int n = s_split (line, fields, 4);
        if (number == 1 && n >= 1 && streq (fields [0], "lgcode"))
            continue;                           //  the header
        if (n != 4) {
            snprintf (why, why_size, "%s:%d: expected 4 fields (lgcode,prefecture,name,kind)",
                      path, number);
            failed = true;
            break;
        }
        if (list->n_entries >= MAX_ROWS) {
            snprintf (why, why_size, "%s: more than %d rows", path, MAX_ROWS);
            failed = true;
            break;
        }
        if (list->n_entries == capacity) {
            capacity *= 2;
            list->entries = (Lgwan__V1__LocalGovernment **)
                realloc (list->entries, capacity * sizeof (void *));
        }
        Lgwan__V1__LocalGovernment *e = (Lgwan__V1__LocalGovernment *) malloc (sizeof *e);
        lgwan__v1__local_government__init (e);
        e->lgcode = strdup (fields [0]);
        e->prefecture = strdup (fields [1]);
        e->name = strdup (fields [2]);
        e->kind = strdup (fields [3]);
        list->entries [list->n_entries++] = e;
    }
    fclose (file);
    if (!failed && list->n_entries == 0) {
        snprintf (why, why_size, "%s: no rows", path);
        failed = true;
    }
    if (failed) {
        lgwan__v1__reference_load__free_unpacked (list, NULL);
        return NULL;
    }
    return list;
}
