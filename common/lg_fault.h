/*  lg_fault - named fault points for kill tests, inactive unless configured.

    LG_FAULTS="after_commit_before_publish" makes the process _exit(99) the
    first time it passes that point (after N passes with "name@N"), so a test
    can kill a service in the exact window it wants to prove safe. Points
    tested with lg_fault_fires do not exit: the caller makes its fault;
    lg_fault_stall holds the calling thread, as a stuck reactor would be.
*/
#ifndef LG_FAULT_H_INCLUDED
#define LG_FAULT_H_INCLUDED

//  Configure from a comma-separated list; NULL or "" disables all.
void lg_fault_configure (const char *list);

//  Exit here if this point is armed.
void lg_fault_point (const char *name);

//  True, once, when an armed point is reached (after its N passes): the
//  caller makes the fault itself (e.g. breaks a connection) and goes on.
bool lg_fault_fires (const char *name);

//  Sleep ms here, once, when this point is armed and reached: the thread
//  is held up (its process's other threads, ZeroMQ's I/O among them, go on).
void lg_fault_stall (const char *name, int ms);

#endif
