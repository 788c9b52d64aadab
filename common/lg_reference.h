/*  lg_reference - read a list of local government codes (CSV with the
    header lgcode,prefecture,name,kind) into a ReferenceLoad request body.

    RFC 4180 quoting is understood; each row must have four fields; a UTF-8
    byte order mark at the start of the file is skipped. The
    codes are not judged here: the registry checks every one on load.
*/
#ifndef LG_REFERENCE_H_INCLUDED
#define LG_REFERENCE_H_INCLUDED

//  Returns a heap ReferenceLoad (free with ..._free_unpacked) or NULL with why
//  naming the line.
Lgwan__V1__ReferenceLoad *lg_reference_read (const char *path, char *why, size_t why_size);

#endif
