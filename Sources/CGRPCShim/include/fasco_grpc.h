// Small C helpers over the gRPC C core for Fasco's Swift transport.
//
// A `fasco_batch` owns every buffer that one grpc_call_start_batch needs until
// its completion arrives (ops, byte buffers, slices, metadata arrays, status),
// so Swift never touches grpc_op unions or slice macros. A `fasco_incoming`
// owns what grpc_server_request_call fills in.
#ifndef FASCO_GRPC_H
#define FASCO_GRPC_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <grpc/grpc.h>

typedef struct fasco_batch fasco_batch;
typedef struct fasco_incoming fasco_incoming;

// Library lifetime.
void fasco_grpc_init(void);

// Deadlines as milliseconds on the monotonic clock (INT64_MAX: none).
int64_t fasco_now_ms(void);

// Server.
grpc_server *fasco_server_create(int max_receive_bytes, int max_send_bytes);
// Binds "unix:/path"; returns non-zero on success.
int fasco_server_add_insecure_port(grpc_server *server, const char *address);

fasco_incoming *fasco_incoming_create(void);
void fasco_incoming_destroy(fasco_incoming *incoming);
grpc_call_error fasco_server_request_call(grpc_server *server, grpc_completion_queue *cq,
                                          fasco_incoming *incoming, void *tag);
// The new call (the caller owns one reference) and its method, NUL-terminated, malloc'd.
grpc_call *fasco_incoming_take_call(fasco_incoming *incoming);
char *fasco_incoming_method(const fasco_incoming *incoming);
// Milliseconds until the call's deadline (INT64_MAX: none).
int64_t fasco_incoming_deadline_ms(const fasco_incoming *incoming);

// Client.
grpc_channel *fasco_channel_create(const char *target, int max_receive_bytes, int max_send_bytes);
grpc_call *fasco_channel_create_call(grpc_channel *channel, grpc_completion_queue *cq,
                                     const char *method, int64_t timeout_ms);
// Waits up to timeout_ms for the channel to connect; returns its connectivity state.
int fasco_channel_state(grpc_channel *channel, int try_to_connect);

// Batches: add ops, start, read results after the completion, free.
fasco_batch *fasco_batch_create(void);
void fasco_batch_destroy(fasco_batch *batch);
void fasco_batch_send_initial_metadata(fasco_batch *batch);
void fasco_batch_send_message(fasco_batch *batch, const uint8_t *bytes, size_t length);
void fasco_batch_send_close_from_client(fasco_batch *batch);
void fasco_batch_send_status(fasco_batch *batch, int code, const char *details);
void fasco_batch_recv_initial_metadata(fasco_batch *batch);
void fasco_batch_recv_message(fasco_batch *batch);
void fasco_batch_recv_status_on_client(fasco_batch *batch);
void fasco_batch_recv_close_on_server(fasco_batch *batch);
grpc_call_error fasco_batch_start(grpc_call *call, fasco_batch *batch, void *tag);

// Results. has_message is 0 when the stream ended (or the call failed) instead.
int fasco_batch_has_message(const fasco_batch *batch);
size_t fasco_batch_message_length(const fasco_batch *batch);
// Copies the received message into out (capacity >= message length); returns bytes copied.
size_t fasco_batch_message_copy(const fasco_batch *batch, uint8_t *out, size_t capacity);
int fasco_batch_cancelled(const fasco_batch *batch);
int fasco_batch_status_code(const fasco_batch *batch);
// The received status details, NUL-terminated, malloc'd (never NULL).
char *fasco_batch_status_details(const fasco_batch *batch);

// A blocking unary call on the calling thread: for CLIs and benchmarks, never for
// Swift's cooperative threads. `cq` is a pluck queue the call was created on;
// both are consumed (the call unreferenced, the queue destroyed). Returns the
// status code; on success *response (malloc'd) and *response_length hold the
// reply. *details (malloc'd, never NULL) holds the status message.
grpc_completion_queue *fasco_pluck_queue_create(void);
int fasco_unary_blocking(grpc_call *call, grpc_completion_queue *cq, const uint8_t *request,
                         size_t request_length, uint8_t **response, size_t *response_length,
                         char **details);

#endif
