// Deprecated proto fields are still converted (wire completeness): no deprecation attributes.
#ifndef PROTOBUF_C__NO_DEPRECATED
#define PROTOBUF_C__NO_DEPRECATED 1
#endif
#include <protobuf-c/protobuf-c.h>
