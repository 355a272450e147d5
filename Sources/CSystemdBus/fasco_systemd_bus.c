#define _GNU_SOURCE
#include "fasco_systemd_bus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

static const char destination[] = "org.freedesktop.systemd1";
static const char manager_path[] = "/org/freedesktop/systemd1";
static const char manager_interface[] = "org.freedesktop.systemd1.Manager";

static int describe(char *error, size_t size, int result, const char *what, const sd_bus_error *bus_error) {
    if (error != NULL && size > 0) {
        if (bus_error != NULL && sd_bus_error_is_set(bus_error))
            snprintf(error, size, "%s: %s: %s", what, bus_error->name, bus_error->message ? bus_error->message : "");
        else
            snprintf(error, size, "%s: %s", what, strerror(-result));
    }
    return result < 0 ? result : -EIO;
}

// systemd's private socket (what systemctl uses as root; a peer-to-peer connection without
// the bus daemon's Hello), else the system bus.
static int open_manager(sd_bus **bus, char *error, size_t size) {
    sd_bus *direct = NULL;
    int result = sd_bus_new(&direct);
    if (result >= 0) result = sd_bus_set_address(direct, "unix:path=/run/systemd/private");
    if (result >= 0) result = sd_bus_start(direct);
    if (result >= 0) {
        *bus = direct;
        return 0;
    }
    sd_bus_unref(direct);
    result = sd_bus_open_system(bus);
    if (result < 0) return describe(error, size, result, "cannot connect to systemd (/run/systemd/private or the system bus)", NULL);
    return 0;
}

int fasco_systemd_start_scope(const char *name, const char *slice, const char *description, const uint32_t *pids,
                              size_t count, char *error, size_t size) {
    sd_bus *bus = NULL;
    sd_bus_message *call = NULL, *reply = NULL;
    sd_bus_error bus_error = SD_BUS_ERROR_NULL;
    int result = open_manager(&bus, error, size);
    if (result < 0) return result;
    result = sd_bus_message_new_method_call(bus, &call, destination, manager_path, manager_interface, "StartTransientUnit");
    if (result >= 0) result = sd_bus_message_append(call, "ss", name, "fail");
    if (result >= 0) result = sd_bus_message_open_container(call, 'a', "(sv)");
    if (result >= 0) result = sd_bus_message_append(call, "(sv)", "Slice", "s", slice);
    if (result >= 0) result = sd_bus_message_append(call, "(sv)", "Description", "s", description);
    if (result >= 0) result = sd_bus_message_append(call, "(sv)", "Delegate", "b", 1);
    if (result >= 0) result = sd_bus_message_append(call, "(sv)", "CollectMode", "s", "inactive-or-failed");
    if (result >= 0) result = sd_bus_message_open_container(call, 'r', "sv");
    if (result >= 0) result = sd_bus_message_append(call, "s", "PIDs");
    if (result >= 0) result = sd_bus_message_open_container(call, 'v', "au");
    if (result >= 0) result = sd_bus_message_append_array(call, 'u', pids, count * sizeof *pids);
    if (result >= 0) result = sd_bus_message_close_container(call);
    if (result >= 0) result = sd_bus_message_close_container(call);
    if (result >= 0) result = sd_bus_message_close_container(call);
    // No auxiliary units.
    if (result >= 0) result = sd_bus_message_append(call, "a(sa(sv))", 0);
    if (result < 0) {
        describe(error, size, result, "cannot build StartTransientUnit", NULL);
    } else {
        result = sd_bus_call(bus, call, 0, &bus_error, &reply);
        if (result < 0) describe(error, size, result, "StartTransientUnit", &bus_error);
    }
    sd_bus_error_free(&bus_error);
    sd_bus_message_unref(reply);
    sd_bus_message_unref(call);
    sd_bus_flush_close_unref(bus);
    return result < 0 ? result : 0;
}

int fasco_systemd_stop_unit(const char *name, char *error, size_t size) {
    sd_bus *bus = NULL;
    sd_bus_message *reply = NULL;
    sd_bus_error bus_error = SD_BUS_ERROR_NULL;
    int result = open_manager(&bus, error, size);
    if (result < 0) return result;
    result = sd_bus_call_method(bus, destination, manager_path, manager_interface, "StopUnit", &bus_error, &reply,
                                "ss", name, "replace");
    if (result < 0) {
        if (sd_bus_error_has_name(&bus_error, "org.freedesktop.systemd1.NoSuchUnit")) result = 0;
        else describe(error, size, result, "StopUnit", &bus_error);
    }
    sd_bus_error_free(&bus_error);
    sd_bus_message_unref(reply);
    sd_bus_flush_close_unref(bus);
    return result < 0 ? result : 0;
}

int fasco_systemd_version(char *version, size_t version_size, char *error, size_t size) {
    sd_bus *bus = NULL;
    sd_bus_error bus_error = SD_BUS_ERROR_NULL;
    char *value = NULL;
    int result = open_manager(&bus, error, size);
    if (result < 0) return result;
    result = sd_bus_get_property_string(bus, destination, manager_path, manager_interface, "Version", &bus_error, &value);
    if (result < 0) describe(error, size, result, "Version", &bus_error);
    else snprintf(version, version_size, "%s", value);
    free(value);
    sd_bus_error_free(&bus_error);
    sd_bus_flush_close_unref(bus);
    return result < 0 ? result : 0;
}
