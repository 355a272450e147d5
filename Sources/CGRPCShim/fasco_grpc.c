#include "fasco_grpc.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

enum { FASCO_MAX_OPS = 6 };

struct fasco_batch {
    grpc_op ops[FASCO_MAX_OPS];
    size_t count;
    grpc_byte_buffer *send_buffer;
    grpc_slice send_details;
    int has_send_details;
    grpc_byte_buffer *recv_buffer;
    grpc_metadata_array recv_initial_metadata;
    grpc_metadata_array recv_trailing_metadata;
    grpc_status_code status;
    grpc_slice recv_details;
    int cancelled;
};

struct fasco_incoming {
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array metadata;
};

void fasco_grpc_init(void) { grpc_init(); }

int64_t fasco_now_ms(void) {
    gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static grpc_channel_args *make_args(grpc_arg *storage, int max_receive_bytes, int max_send_bytes,
                                    grpc_channel_args *args) {
    storage[0].type = GRPC_ARG_INTEGER;
    storage[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    storage[0].value.integer = max_receive_bytes;
    storage[1].type = GRPC_ARG_INTEGER;
    storage[1].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    storage[1].value.integer = max_send_bytes;
    args->num_args = 2;
    args->args = storage;
    return args;
}

grpc_server *fasco_server_create(int max_receive_bytes, int max_send_bytes) {
    grpc_arg storage[2];
    grpc_channel_args args;
    return grpc_server_create(make_args(storage, max_receive_bytes, max_send_bytes, &args), NULL);
}

int fasco_server_add_insecure_port(grpc_server *server, const char *address) {
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int port = grpc_server_add_http2_port(server, address, creds);
    grpc_server_credentials_release(creds);
    return port;
}

fasco_incoming *fasco_incoming_create(void) {
    fasco_incoming *incoming = calloc(1, sizeof *incoming);
    if (incoming == NULL) return NULL;
    grpc_call_details_init(&incoming->details);
    grpc_metadata_array_init(&incoming->metadata);
    return incoming;
}

void fasco_incoming_destroy(fasco_incoming *incoming) {
    if (incoming == NULL) return;
    if (incoming->call != NULL) grpc_call_unref(incoming->call);
    grpc_call_details_destroy(&incoming->details);
    grpc_metadata_array_destroy(&incoming->metadata);
    free(incoming);
}

grpc_call_error fasco_server_request_call(grpc_server *server, grpc_completion_queue *cq,
                                          fasco_incoming *incoming, void *tag) {
    return grpc_server_request_call(server, &incoming->call, &incoming->details,
                                    &incoming->metadata, cq, cq, tag);
}

grpc_call *fasco_incoming_take_call(fasco_incoming *incoming) {
    grpc_call *call = incoming->call;
    incoming->call = NULL;
    return call;
}

static char *slice_to_string(grpc_slice slice) {
    size_t length = GRPC_SLICE_LENGTH(slice);
    char *out = malloc(length + 1);
    if (out == NULL) return NULL;
    if (length > 0) memcpy(out, GRPC_SLICE_START_PTR(slice), length);
    out[length] = '\0';
    return out;
}

char *fasco_incoming_method(const fasco_incoming *incoming) {
    return slice_to_string(incoming->details.method);
}

static int64_t ms_until(gpr_timespec deadline) {
    if (gpr_time_cmp(deadline, gpr_inf_future(deadline.clock_type)) == 0) return INT64_MAX;
    gpr_timespec now = gpr_now(deadline.clock_type);
    gpr_timespec left = gpr_time_sub(deadline, now);
    return (int64_t)left.tv_sec * 1000 + left.tv_nsec / 1000000;
}

int64_t fasco_incoming_deadline_ms(const fasco_incoming *incoming) {
    return ms_until(incoming->details.deadline);
}

grpc_channel *fasco_channel_create(const char *target, int max_receive_bytes, int max_send_bytes) {
    grpc_arg storage[2];
    grpc_channel_args args;
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *channel =
        grpc_channel_create(target, creds, make_args(storage, max_receive_bytes, max_send_bytes, &args));
    grpc_channel_credentials_release(creds);
    return channel;
}

grpc_call *fasco_channel_create_call(grpc_channel *channel, grpc_completion_queue *cq,
                                     const char *method, int64_t timeout_ms) {
    gpr_timespec deadline = timeout_ms == INT64_MAX
        ? gpr_inf_future(GPR_CLOCK_REALTIME)
        : gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
    grpc_slice method_slice = grpc_slice_from_copied_string(method);
    grpc_call *call = grpc_channel_create_call(channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                               method_slice, NULL, deadline, NULL);
    grpc_slice_unref(method_slice);
    return call;
}

int fasco_channel_state(grpc_channel *channel, int try_to_connect) {
    return (int)grpc_channel_check_connectivity_state(channel, try_to_connect);
}

fasco_batch *fasco_batch_create(void) {
    fasco_batch *batch = calloc(1, sizeof *batch);
    if (batch == NULL) return NULL;
    grpc_metadata_array_init(&batch->recv_initial_metadata);
    grpc_metadata_array_init(&batch->recv_trailing_metadata);
    batch->recv_details = grpc_empty_slice();
    batch->status = GRPC_STATUS_UNKNOWN;
    return batch;
}

void fasco_batch_destroy(fasco_batch *batch) {
    if (batch == NULL) return;
    if (batch->send_buffer != NULL) grpc_byte_buffer_destroy(batch->send_buffer);
    if (batch->recv_buffer != NULL) grpc_byte_buffer_destroy(batch->recv_buffer);
    if (batch->has_send_details) grpc_slice_unref(batch->send_details);
    grpc_slice_unref(batch->recv_details);
    grpc_metadata_array_destroy(&batch->recv_initial_metadata);
    grpc_metadata_array_destroy(&batch->recv_trailing_metadata);
    free(batch);
}

static grpc_op *next_op(fasco_batch *batch, grpc_op_type type) {
    if (batch->count >= FASCO_MAX_OPS) abort();  // programming error: a fixed set of op combinations
    grpc_op *op = &batch->ops[batch->count++];
    memset(op, 0, sizeof *op);
    op->op = type;
    return op;
}

void fasco_batch_send_initial_metadata(fasco_batch *batch) {
    grpc_op *op = next_op(batch, GRPC_OP_SEND_INITIAL_METADATA);
    op->data.send_initial_metadata.count = 0;
}

void fasco_batch_send_message(fasco_batch *batch, const uint8_t *bytes, size_t length) {
    grpc_slice slice = grpc_slice_from_copied_buffer((const char *)bytes, length);
    batch->send_buffer = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    grpc_op *op = next_op(batch, GRPC_OP_SEND_MESSAGE);
    op->data.send_message.send_message = batch->send_buffer;
}

void fasco_batch_send_close_from_client(fasco_batch *batch) {
    next_op(batch, GRPC_OP_SEND_CLOSE_FROM_CLIENT);
}

void fasco_batch_send_status(fasco_batch *batch, int code, const char *details) {
    grpc_op *op = next_op(batch, GRPC_OP_SEND_STATUS_FROM_SERVER);
    op->data.send_status_from_server.status = (grpc_status_code)code;
    op->data.send_status_from_server.trailing_metadata_count = 0;
    if (details != NULL && details[0] != '\0') {
        batch->send_details = grpc_slice_from_copied_string(details);
        batch->has_send_details = 1;
        op->data.send_status_from_server.status_details = &batch->send_details;
    }
}

void fasco_batch_recv_initial_metadata(fasco_batch *batch) {
    grpc_op *op = next_op(batch, GRPC_OP_RECV_INITIAL_METADATA);
    op->data.recv_initial_metadata.recv_initial_metadata = &batch->recv_initial_metadata;
}

void fasco_batch_recv_message(fasco_batch *batch) {
    grpc_op *op = next_op(batch, GRPC_OP_RECV_MESSAGE);
    op->data.recv_message.recv_message = &batch->recv_buffer;
}

void fasco_batch_recv_status_on_client(fasco_batch *batch) {
    grpc_op *op = next_op(batch, GRPC_OP_RECV_STATUS_ON_CLIENT);
    op->data.recv_status_on_client.trailing_metadata = &batch->recv_trailing_metadata;
    op->data.recv_status_on_client.status = &batch->status;
    op->data.recv_status_on_client.status_details = &batch->recv_details;
}

void fasco_batch_recv_close_on_server(fasco_batch *batch) {
    grpc_op *op = next_op(batch, GRPC_OP_RECV_CLOSE_ON_SERVER);
    op->data.recv_close_on_server.cancelled = &batch->cancelled;
}

grpc_call_error fasco_batch_start(grpc_call *call, fasco_batch *batch, void *tag) {
    return grpc_call_start_batch(call, batch->ops, batch->count, tag, NULL);
}

int fasco_batch_has_message(const fasco_batch *batch) { return batch->recv_buffer != NULL; }

size_t fasco_batch_message_length(const fasco_batch *batch) {
    return batch->recv_buffer == NULL ? 0 : grpc_byte_buffer_length(batch->recv_buffer);
}

size_t fasco_batch_message_copy(const fasco_batch *batch, uint8_t *out, size_t capacity) {
    if (batch->recv_buffer == NULL) return 0;
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, batch->recv_buffer)) return 0;
    size_t copied = 0;
    grpc_slice slice;
    while (grpc_byte_buffer_reader_next(&reader, &slice)) {
        size_t length = GRPC_SLICE_LENGTH(slice);
        if (copied + length > capacity) length = capacity - copied;
        if (length > 0) memcpy(out + copied, GRPC_SLICE_START_PTR(slice), length);
        copied += length;
        grpc_slice_unref(slice);
    }
    grpc_byte_buffer_reader_destroy(&reader);
    return copied;
}

int fasco_batch_cancelled(const fasco_batch *batch) { return batch->cancelled; }

int fasco_batch_status_code(const fasco_batch *batch) { return (int)batch->status; }

char *fasco_batch_status_details(const fasco_batch *batch) {
    char *details = slice_to_string(batch->recv_details);
    return details != NULL ? details : calloc(1, 1);
}

grpc_completion_queue *fasco_pluck_queue_create(void) {
    return grpc_completion_queue_create_for_pluck(NULL);
}

int fasco_unary_blocking(grpc_call *call, grpc_completion_queue *cq, const uint8_t *request,
                         size_t request_length, uint8_t **response, size_t *response_length,
                         char **details) {
    *response = NULL;
    *response_length = 0;
    *details = NULL;
    fasco_batch *batch = fasco_batch_create();
    int code = GRPC_STATUS_INTERNAL;
    if (call != NULL && batch != NULL) {
        fasco_batch_send_initial_metadata(batch);
        fasco_batch_send_message(batch, request, request_length);
        fasco_batch_send_close_from_client(batch);
        fasco_batch_recv_initial_metadata(batch);
        fasco_batch_recv_message(batch);
        fasco_batch_recv_status_on_client(batch);
        if (fasco_batch_start(call, batch, batch) == GRPC_CALL_OK) {
            grpc_completion_queue_pluck(cq, batch, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            code = fasco_batch_status_code(batch);
            *details = fasco_batch_status_details(batch);
            size_t length = fasco_batch_message_length(batch);
            if (code == GRPC_STATUS_OK && fasco_batch_has_message(batch)) {
                *response = malloc(length > 0 ? length : 1);
                if (*response != NULL) *response_length = fasco_batch_message_copy(batch, *response, length);
            }
        }
    }
    if (*details == NULL) *details = calloc(1, 1);
    fasco_batch_destroy(batch);
    if (call != NULL) grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
    return code;
}
