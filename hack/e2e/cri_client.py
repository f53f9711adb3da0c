#!/usr/bin/python3
"""A tiny CRI client (what kubelet does, minus kubelet) for the e2e suite.

Debian 12 has no crictl and no k8s.io/cri-api package. PyPI's kubernetes-cri
ships the generated CRI api_pb2.py (an early revision, package "runtime");
the CRI kept its field numbers stable, so this re-registers that file
descriptor as runtime.v1 (what containerd 1.6 serves), adds the two v1 fields
we need (RunPodSandboxRequest.runtime_handler = 2; NamespaceOption's
network/pid/ipc became enums in the same field numbers) and calls the
methods with plain gRPC.

usage: cri_client.py SOCKET HANDLER LOGDIR  -> runs the scenario, exit 0 = pass
       cri_client.py SOCKET HANDLER LOGDIR cycle -> one timed pod cycle (make bench):
           prints "us=N", the wall time of RunPodSandbox + CreateContainer +
           StartContainer + StopContainer + RemoveContainer + StopPodSandbox +
           RemovePodSandbox (Python's start-up and imports not included)
"""
import os
import sys
import time

os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
sys.path.insert(0, os.environ.get("E2E_PYDEPS", "/var/cache/husk-e2e/py"))

import grpc  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # noqa: E402
from kubernetes.cri import api_pb2 as old  # noqa: E402

F = descriptor_pb2.FieldDescriptorProto


def build_v1():
    fd = descriptor_pb2.FileDescriptorProto()
    old.DESCRIPTOR.CopyToProto(fd)
    fd.name = "husk-e2e/cri-v1.proto"
    fd.package = "runtime.v1"
    del fd.dependency[:]
    fd.ClearField("options")

    def scrub(msgs):
        for m in msgs:
            m.ClearField("options")
            for f in m.field:
                f.ClearField("options")
                if f.type_name.startswith(".runtime."):
                    f.type_name = ".runtime.v1." + f.type_name[len(".runtime."):]
            scrub(m.nested_type)

    scrub(fd.message_type)
    for s in fd.service:
        for m in s.method:
            m.input_type = ".runtime.v1." + m.input_type[len(".runtime."):]
            m.output_type = ".runtime.v1." + m.output_type[len(".runtime."):]
    for m in fd.message_type:
        if m.name == "RunPodSandboxRequest":
            m.field.add(name="runtime_handler", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
        if m.name == "LinuxContainerSecurityContext":  # v1 fields the old protos lack
            m.field.add(name="seccomp_profile_path", number=10, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
            m.field.add(name="no_new_privs", number=11, type=F.TYPE_BOOL, label=F.LABEL_OPTIONAL)
        if m.name == "NamespaceOption":
            for f, n in zip(m.field, ("network", "pid", "ipc")):
                f.name, f.type, f.json_name = n, F.TYPE_INT32, n
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    fdesc = pool.FindFileByName(fd.name)
    classes = {}
    for name in fdesc.message_types_by_name:
        d = fdesc.message_types_by_name[name]
        classes[name] = message_factory.MessageFactory(pool).GetPrototype(d)
    return classes, fdesc


M, FDESC = build_v1()
NODE = 2  # NamespaceMode.NODE


class Client:
    quiet = False

    def __init__(self, sock):
        self.ch = grpc.insecure_channel("unix://" + sock)
        svc = FDESC.services_by_name["RuntimeService"]
        self.methods = {m.name: m for m in svc.methods}

    def call(self, name, deadline=60, **kw):
        # (not "timeout": StopContainer and ExecSync have a field of that name)
        m = self.methods[name]
        req = M[m.input_type.name](**kw)
        resp_cls = M[m.output_type.name]
        fn = self.ch.unary_unary("/runtime.v1.RuntimeService/" + name,
                                 request_serializer=lambda x: x.SerializeToString(),
                                 response_deserializer=resp_cls.FromString)
        if not self.quiet:
            print("-> %s %s" % (name, str(req).replace("\n", " ")[:300]), flush=True)
        resp = fn(req, timeout=deadline)
        if not self.quiet:
            print("<- %s" % str(resp).replace("\n", " ")[:400], flush=True)
        return resp


def check(what, cond, detail=""):
    print(("ok: " if cond else "FAIL: ") + what + (" " + str(detail) if detail else ""), flush=True)
    if not cond:
        raise SystemExit(1)


def cycle(c, handler, logdir):
    """One pod as kubelet makes it for a one-container Deployment (host
    network, no CNI), from RunPodSandbox to RemovePodSandbox."""
    c.quiet = True
    c.call("Version", version="v1")  # connects before the clock starts
    os.makedirs(logdir, exist_ok=True)
    uid = "bench-%s-%d" % (handler, os.getpid())
    sb_cfg = M["PodSandboxConfig"](
        metadata=M["PodSandboxMetadata"](name="bench-" + handler, uid=uid, namespace="default", attempt=0),
        log_directory=logdir,
        linux=M["LinuxPodSandboxConfig"](security_context=M["LinuxSandboxSecurityContext"](
            namespace_options=M["NamespaceOption"](network=NODE))),
    )
    cfg = M["ContainerConfig"](
        metadata=M["ContainerMetadata"](name="c", attempt=0),
        image=M["ImageSpec"](image="localhost/husk-busybox:latest"),
        command=["sleep", "1000"], log_path="c.log",
    )
    t0 = time.monotonic_ns()
    sb = c.call("RunPodSandbox", config=sb_cfg, runtime_handler=handler).pod_sandbox_id
    cid = c.call("CreateContainer", pod_sandbox_id=sb, config=cfg, sandbox_config=sb_cfg).container_id
    c.call("StartContainer", container_id=cid)
    # timeout 0: SIGKILL at once (sleep as pid 1 ignores SIGTERM; a grace
    # period would measure the wait, not the runtime)
    c.call("StopContainer", container_id=cid, timeout=0)
    c.call("RemoveContainer", container_id=cid)
    c.call("StopPodSandbox", pod_sandbox_id=sb)
    c.call("RemovePodSandbox", pod_sandbox_id=sb)
    print("us=%d" % ((time.monotonic_ns() - t0) // 1000), flush=True)


def main():
    sock, handler, logdir = sys.argv[1:4]
    c = Client(sock)
    if sys.argv[4:] == ["cycle"]:
        return cycle(c, handler, logdir)
    v = c.call("Version", version="v1")
    check("runtime name", v.runtime_name == "containerd", v.runtime_name)
    uid = "e2e-%s-%d" % (handler, os.getpid())
    os.makedirs(logdir, exist_ok=True)
    sb_cfg = M["PodSandboxConfig"](
        metadata=M["PodSandboxMetadata"](name="e2e-pod-" + handler, uid=uid, namespace="default", attempt=0),
        # host network (no CNI needed): so no hostname either (no private UTS)
        log_directory=logdir,
        linux=M["LinuxPodSandboxConfig"](security_context=M["LinuxSandboxSecurityContext"](
            namespace_options=M["NamespaceOption"](network=NODE))),
    )
    sb = c.call("RunPodSandbox", config=sb_cfg, runtime_handler=handler).pod_sandbox_id
    ok = False
    try:
        st = c.call("PodSandboxStatus", pod_sandbox_id=sb)
        check("sandbox ready", st.status.state == 0, st.status.state)  # SANDBOX_READY
        # a short-lived container: output goes to the CRI log file
        cfg = M["ContainerConfig"](
            metadata=M["ContainerMetadata"](name="hello", attempt=0),
            image=M["ImageSpec"](image="localhost/husk-busybox:latest"),
            command=["sh", "-c"], args=["echo hello-from-$WHO; echo to-stderr >&2; exit 3"],
            envs=[M["KeyValue"](key="WHO", value=handler)],
            log_path="hello.log",
        )
        cid = c.call("CreateContainer", pod_sandbox_id=sb, config=cfg, sandbox_config=sb_cfg).container_id
        c.call("StartContainer", container_id=cid)
        for _ in range(60):
            s = c.call("ContainerStatus", container_id=cid).status
            if s.state == 2:  # CONTAINER_EXITED
                break
            time.sleep(0.5)
        check("container exited", s.state == 2, s.state)
        check("exit code 3", s.exit_code == 3, s.exit_code)
        log = open(os.path.join(logdir, "hello.log")).read()
        print(log, flush=True)
        check("stdout in the CRI log", ("stdout F hello-from-" + handler) in log)
        check("stderr in the CRI log", "stderr F to-stderr" in log)
        # a long-running container, then ExecSync into it
        cfg2 = M["ContainerConfig"](
            metadata=M["ContainerMetadata"](name="sleeper", attempt=0),
            image=M["ImageSpec"](image="localhost/husk-busybox:latest"),
            command=["sleep", "1000"], log_path="sleeper.log",
        )
        cid2 = c.call("CreateContainer", pod_sandbox_id=sb, config=cfg2, sandbox_config=sb_cfg).container_id
        c.call("StartContainer", container_id=cid2)
        s = c.call("ContainerStatus", container_id=cid2).status
        check("sleeper running", s.state == 1, s.state)
        # the handler's binary really runs it: its own `state` knows the
        # container (the runc shim keeps runtime state in /run/containerd/runc/<ns>)
        rtbin = os.environ.get("RTBIN")
        if rtbin:
            import subprocess
            for id_ in (sb, cid2):
                p = subprocess.run([rtbin, "--root", "/run/containerd/runc/k8s.io", "state", id_],
                                   capture_output=True, text=True, timeout=30)
                print(p.stdout, p.stderr, flush=True)
                check("%s state %s" % (os.path.basename(rtbin), id_[:12]), p.returncode == 0 and '"running"' in p.stdout)
        # a container with a security context and limits, as a Deployment
        # with securityContext/resources makes it: uid 1000, read-only root,
        # capabilities dropped but one, no_new_privs, RuntimeDefault seccomp
        cfg3 = M["ContainerConfig"](
            metadata=M["ContainerMetadata"](name="secctx", attempt=0),
            image=M["ImageSpec"](image="localhost/husk-busybox:latest"),
            command=["sh", "-c", "id -u; grep -E 'CapEff|NoNewPrivs|Seccomp:' /proc/self/status; touch /x 2>&1; exit 0"],
            log_path="secctx.log",
            linux=M["LinuxContainerConfig"](
                resources=M["LinuxContainerResources"](memory_limit_in_bytes=64 << 20, cpu_period=100000, cpu_quota=50000),
                security_context=M["LinuxContainerSecurityContext"](
                    run_as_user=M["Int64Value"](value=1000),
                    readonly_rootfs=True,
                    no_new_privs=True,
                    capabilities=M["Capability"](drop_capabilities=["ALL"], add_capabilities=["NET_BIND_SERVICE"]),
                    seccomp_profile_path="runtime/default",
                )),
        )
        cid3 = c.call("CreateContainer", pod_sandbox_id=sb, config=cfg3, sandbox_config=sb_cfg).container_id
        c.call("StartContainer", container_id=cid3)
        for _ in range(60):
            s3 = c.call("ContainerStatus", container_id=cid3).status
            if s3.state == 2:
                break
            time.sleep(0.5)
        log3 = open(os.path.join(logdir, "secctx.log")).read()
        print(log3, flush=True)
        check("secctx exited 0", s3.state == 2 and s3.exit_code == 0, (s3.state, s3.exit_code))
        check("secctx uid 1000", "stdout F 1000" in log3)
        check("secctx NoNewPrivs", "NoNewPrivs:\t1" in log3)
        check("secctx seccomp filter", "Seccomp:\t2" in log3)
        check("secctx read-only root", "Read-only file system" in log3)
        c.call("RemoveContainer", container_id=cid3)
        r = c.call("ExecSync", container_id=cid2, cmd=["sh", "-c", "echo exec-out; hostname; exit 2"], timeout=30)
        check("exec exit code 2", r.exit_code == 2, r.exit_code)
        check("exec stdout", r.stdout.startswith(b"exec-out"), r.stdout)
        print("CONTAINERS %s %s %s" % (sb, cid, cid2), flush=True)
        c.call("StopContainer", container_id=cid2, timeout=10)
        s = c.call("ContainerStatus", container_id=cid2).status
        check("sleeper stopped", s.state == 2, s.state)
        c.call("RemoveContainer", container_id=cid2)
        c.call("RemoveContainer", container_id=cid)
        ok = True
    finally:
        try:
            c.call("StopPodSandbox", pod_sandbox_id=sb)
            c.call("RemovePodSandbox", pod_sandbox_id=sb)
        except grpc.RpcError as e:
            print("cleanup failed: %s" % e, flush=True)
            ok = False
    check("scenario", ok)


if __name__ == "__main__":
    main()
