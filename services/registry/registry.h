/*  registry - the system of record: providers, their filings and connections.

    A library so tests can run the service in-process as an actor; the
    binary lgwan-registry is main.c around it.
*/
#ifndef REGISTRY_H_INCLUDED
#define REGISTRY_H_INCLUDED

#include "lg_lib.h"

extern const lg_service_def_t registry_service;

//  SQL of the ProviderGet point query, for the benchmark's raw baseline
extern const char *registry_provider_get_sql;

#endif
