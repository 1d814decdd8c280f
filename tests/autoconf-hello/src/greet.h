#ifndef GREET_H
#define GREET_H
/* Lives in libgreet.a so that the link also exercises -L/-l against a local archive. */
const char *greet_prefix(void);
#endif
