"""An independent CRI client: Python grpcio with stubs compiled from proto/api.proto.

usage: python_client.py PROTO_DIR ENDPOINT            one JSON object: Version and Status answers
       python_client.py PROTO_DIR ENDPOINT events N   the first N GetContainerEvents, one JSON line each
"""
import atexit
import shutil
import importlib
import json
import sys
import tempfile

from grpc_tools import protoc
import grpc


def main():
    proto_dir, endpoint = sys.argv[1], sys.argv[2]
    out = tempfile.mkdtemp(prefix="fasco-pystubs-")
    atexit.register(shutil.rmtree, out, True)  # the generated stubs go with the run
    code = protoc.main(["protoc", f"-I{proto_dir}", f"--python_out={out}", f"--grpc_python_out={out}", "api.proto"])
    if code != 0:
        raise SystemExit(f"protoc failed: {code}")
    sys.path.insert(0, out)
    api = importlib.import_module("api_pb2")
    stubs = importlib.import_module("api_pb2_grpc")
    if len(sys.argv) > 4 and sys.argv[3] == "events":
        return events(api, stubs, endpoint, int(sys.argv[4]))
    with grpc.insecure_channel(endpoint) as channel:
        runtime = stubs.RuntimeServiceStub(channel)
        version = runtime.Version(api.VersionRequest(version="v1"), timeout=10)
        status = runtime.Status(api.StatusRequest(verbose=True), timeout=10)
        try:
            runtime.ListContainers(api.ListContainersRequest(), timeout=10)
            unimplemented = None
        except grpc.RpcError as error:
            unimplemented = error.code().name
    print(json.dumps({
        "runtime_name": version.runtime_name,
        "runtime_api_version": version.runtime_api_version,
        "conditions": {c.type: c.status for c in status.status.conditions},
        "info_keys": sorted(status.info.keys()),
        "list_containers": unimplemented,
    }, sort_keys=True))


def events(api, stubs, endpoint, count):
    names = {0: "created", 1: "started", 2: "stopped", 3: "deleted"}
    with grpc.insecure_channel(endpoint) as channel:
        runtime = stubs.RuntimeServiceStub(channel)
        stream = runtime.GetContainerEvents(api.GetEventsRequest(), timeout=120)
        print("subscribed", flush=True)
        for index, event in enumerate(stream):
            print(json.dumps({
                "id": event.container_id,
                "type": names.get(event.container_event_type, str(event.container_event_type)),
                "pod": event.pod_sandbox_status.id,
                "containers": len(event.containers_statuses),
                "created_at": event.created_at,
            }, sort_keys=True), flush=True)
            if count and index + 1 >= count:
                break


if __name__ == "__main__":
    main()
