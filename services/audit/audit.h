/*  audit - audits of providers (R15). This first slice follows the
    registry's provider events into audit's own copy; audits, findings and
    remediation come with the audit issue.
*/
#ifndef AUDIT_H_INCLUDED
#define AUDIT_H_INCLUDED

#include "lg_lib.h"

extern const lg_service_def_t audit_service;

#endif
