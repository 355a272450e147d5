// JSON fixtures for the runtime-spec tests.

enum RuntimeFixtures {
    /// Verbatim output of `runc spec` (runc 1.1.5, spec 1.0.2-dev).
    static let runcSpec = #"""
{
	"ociVersion": "1.0.2-dev",
	"process": {
		"terminal": true,
		"user": {
			"uid": 0,
			"gid": 0
		},
		"args": [
			"sh"
		],
		"env": [
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=xterm"
		],
		"cwd": "/",
		"capabilities": {
			"bounding": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"effective": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"permitted": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"ambient": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			]
		},
		"rlimits": [
			{
				"type": "RLIMIT_NOFILE",
				"hard": 1024,
				"soft": 1024
			}
		],
		"noNewPrivileges": true
	},
	"root": {
		"path": "rootfs",
		"readonly": true
	},
	"hostname": "runc",
	"mounts": [
		{
			"destination": "/proc",
			"type": "proc",
			"source": "proc"
		},
		{
			"destination": "/dev",
			"type": "tmpfs",
			"source": "tmpfs",
			"options": [
				"nosuid",
				"strictatime",
				"mode=755",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/pts",
			"type": "devpts",
			"source": "devpts",
			"options": [
				"nosuid",
				"noexec",
				"newinstance",
				"ptmxmode=0666",
				"mode=0620",
				"gid=5"
			]
		},
		{
			"destination": "/dev/shm",
			"type": "tmpfs",
			"source": "shm",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"mode=1777",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/mqueue",
			"type": "mqueue",
			"source": "mqueue",
			"options": [
				"nosuid",
				"noexec",
				"nodev"
			]
		},
		{
			"destination": "/sys",
			"type": "sysfs",
			"source": "sysfs",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"ro"
			]
		},
		{
			"destination": "/sys/fs/cgroup",
			"type": "cgroup",
			"source": "cgroup",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"relatime",
				"ro"
			]
		}
	],
	"linux": {
		"resources": {
			"devices": [
				{
					"allow": false,
					"access": "rwm"
				}
			]
		},
		"namespaces": [
			{
				"type": "pid"
			},
			{
				"type": "network"
			},
			{
				"type": "ipc"
			},
			{
				"type": "uts"
			},
			{
				"type": "mount"
			}
		],
		"maskedPaths": [
			"/proc/acpi",
			"/proc/asound",
			"/proc/kcore",
			"/proc/keys",
			"/proc/latency_stats",
			"/proc/timer_list",
			"/proc/timer_stats",
			"/proc/sched_debug",
			"/sys/firmware",
			"/proc/scsi"
		],
		"readonlyPaths": [
			"/proc/bus",
			"/proc/fs",
			"/proc/irq",
			"/proc/sys",
			"/proc/sysrq-trigger"
		]
	}
}
"""#

    /// Verbatim output of `crun spec --rootless` (crun 1.8.1); its capabilities have an empty `inheritable` array.
    static let crunSpecRootless = #"""
  {
	"ociVersion": "1.0.0",
	"process": {
		"terminal": true,
		"user": {
			"uid": 0,
			"gid": 0
		},
		"args": [
			"sh"
		],
		"env": [
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=xterm"
		],
		"cwd": "/",
		"capabilities": {
			"bounding": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"effective": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"inheritable": [
			],
			"permitted": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"ambient": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			]
		},
		"rlimits": [
			{
				"type": "RLIMIT_NOFILE",
				"hard": 1024,
				"soft": 1024
			}
		],
		"noNewPrivileges": true
	},
	"root": {
		"path": "rootfs",
		"readonly": true
	},
	"hostname": "crun",
	"mounts": [
		{
			"destination": "/proc",
			"type": "proc",
			"source": "proc"
		},
		{
			"destination": "/dev",
			"type": "tmpfs",
			"source": "tmpfs",
			"options": [
				"nosuid",
				"strictatime",
				"mode=755",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/pts",
			"type": "devpts",
			"source": "devpts",
			"options": [
				"nosuid",
				"noexec",
				"newinstance",
				"ptmxmode=0666",
				"mode=0620"
			]
		},
		{
			"destination": "/dev/shm",
			"type": "tmpfs",
			"source": "shm",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"mode=1777",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/mqueue",
			"type": "mqueue",
			"source": "mqueue",
			"options": [
				"nosuid",
				"noexec",
				"nodev"
			]
		},
		{
			"destination": "/sys",
			"type": "sysfs",
			"source": "sysfs",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"ro"
			]
		},
		{
			"destination": "/sys/fs/cgroup",
			"type": "cgroup",
			"source": "cgroup",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"relatime",
				"ro"
			]
		}
	],
	"linux": {
		"resources": {
			"devices": [
				{
					"allow": false,
					"access": "rwm"
				}
			]
		},
		"namespaces": [
			{
				"type": "pid"
			},
			{
				"type": "network"
			},
			{
				"type": "ipc"
			},
			{
				"type": "uts"
			},
			{
				"type": "user"
 			},
			{
				"type": "mount"
			}
		],
		"maskedPaths": [
			"/proc/acpi",
			"/proc/asound",
			"/proc/kcore",
			"/proc/keys",
			"/proc/latency_stats",
			"/proc/timer_list",
			"/proc/timer_stats",
			"/proc/sched_debug",
			"/sys/firmware",
			"/proc/scsi"
		],
		"readonlyPaths": [
			"/proc/bus",
			"/proc/fs",
			"/proc/irq",
			"/proc/sys",
			"/proc/sysrq-trigger"
		]
	}
}
"""#

    /// Verbatim output of `runc spec --rootless` (runc 1.1.5).
    static let runcSpecRootless = #"""
{
	"ociVersion": "1.0.2-dev",
	"process": {
		"terminal": true,
		"user": {
			"uid": 0,
			"gid": 0
		},
		"args": [
			"sh"
		],
		"env": [
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=xterm"
		],
		"cwd": "/",
		"capabilities": {
			"bounding": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"effective": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"permitted": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"ambient": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			]
		},
		"rlimits": [
			{
				"type": "RLIMIT_NOFILE",
				"hard": 1024,
				"soft": 1024
			}
		],
		"noNewPrivileges": true
	},
	"root": {
		"path": "rootfs",
		"readonly": true
	},
	"hostname": "runc",
	"mounts": [
		{
			"destination": "/proc",
			"type": "proc",
			"source": "proc"
		},
		{
			"destination": "/dev",
			"type": "tmpfs",
			"source": "tmpfs",
			"options": [
				"nosuid",
				"strictatime",
				"mode=755",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/pts",
			"type": "devpts",
			"source": "devpts",
			"options": [
				"nosuid",
				"noexec",
				"newinstance",
				"ptmxmode=0666",
				"mode=0620"
			]
		},
		{
			"destination": "/dev/shm",
			"type": "tmpfs",
			"source": "shm",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"mode=1777",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/mqueue",
			"type": "mqueue",
			"source": "mqueue",
			"options": [
				"nosuid",
				"noexec",
				"nodev"
			]
		},
		{
			"destination": "/sys",
			"type": "none",
			"source": "/sys",
			"options": [
				"rbind",
				"nosuid",
				"noexec",
				"nodev",
				"ro"
			]
		},
		{
			"destination": "/sys/fs/cgroup",
			"type": "cgroup",
			"source": "cgroup",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"relatime",
				"ro"
			]
		}
	],
	"linux": {
		"uidMappings": [
			{
				"containerID": 0,
				"hostID": 0,
				"size": 1
			}
		],
		"gidMappings": [
			{
				"containerID": 0,
				"hostID": 0,
				"size": 1
			}
		],
		"namespaces": [
			{
				"type": "pid"
			},
			{
				"type": "ipc"
			},
			{
				"type": "uts"
			},
			{
				"type": "mount"
			},
			{
				"type": "user"
			}
		],
		"maskedPaths": [
			"/proc/acpi",
			"/proc/asound",
			"/proc/kcore",
			"/proc/keys",
			"/proc/latency_stats",
			"/proc/timer_list",
			"/proc/timer_stats",
			"/proc/sched_debug",
			"/sys/firmware",
			"/proc/scsi"
		],
		"readonlyPaths": [
			"/proc/bus",
			"/proc/fs",
			"/proc/irq",
			"/proc/sys",
			"/proc/sysrq-trigger"
		]
	}
}
"""#

    /// opencontainers/runtime-spec schema/test/config/good/spec-example.json (Apache-2.0). Its
    /// `linux.resources.oomScoreAdj` is not a spec field (a leftover of an old spec version).
    static let runtimeSpecExample = #"""
{
    "ociVersion": "0.5.0-dev",
    "process": {
        "terminal": true,
        "user": {
            "uid": 1,
            "gid": 1,
            "additionalGids": [
                5,
                6
            ]
        },
        "args": [
            "sh"
        ],
        "env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm"
        ],
        "cwd": "/",
        "capabilities": {
            "bounding": [
                "CAP_AUDIT_WRITE",
                "CAP_KILL",
                "CAP_NET_BIND_SERVICE"
            ],
            "permitted": [
                "CAP_AUDIT_WRITE",
                "CAP_KILL",
                "CAP_NET_BIND_SERVICE"
            ],
            "inheritable": [
                "CAP_AUDIT_WRITE",
                "CAP_KILL",
                "CAP_NET_BIND_SERVICE"
            ],
            "effective": [
                "CAP_AUDIT_WRITE",
                "CAP_KILL"
            ],
            "ambient": [
                "CAP_NET_BIND_SERVICE"
            ]
        },
        "rlimits": [
            {
                "type": "RLIMIT_CORE",
                "hard": 1024,
                "soft": 1024
            },
            {
                "type": "RLIMIT_NOFILE",
                "hard": 1024,
                "soft": 1024
            }
        ],
        "apparmorProfile": "acme_secure_profile",
        "selinuxLabel": "system_u:system_r:svirt_lxc_net_t:s0:c124,c675",
        "noNewPrivileges": true
    },
    "root": {
        "path": "rootfs",
        "readonly": true
    },
    "hostname": "slartibartfast",
    "domainname": "foobarbaz.test",
    "mounts": [
        {
            "destination": "/proc",
            "type": "proc",
            "source": "proc"
        },
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": [
                "nosuid",
                "strictatime",
                "mode=755",
                "size=65536k"
            ]
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": [
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5"
            ]
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": [
                "nosuid",
                "noexec",
                "nodev",
                "mode=1777",
                "size=65536k"
            ]
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": [
                "nosuid",
                "noexec",
                "nodev"
            ]
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": [
                "nosuid",
                "noexec",
                "nodev"
            ]
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": [
                "nosuid",
                "noexec",
                "nodev",
                "relatime",
                "ro"
            ]
        }
    ],
    "hooks": {
        "prestart": [
            {
                "path": "/usr/bin/fix-mounts",
                "args": [
                    "fix-mounts",
                    "arg1",
                    "arg2"
                ],
                "env": [
                    "key1=value1"
                ]
            },
            {
                "path": "/usr/bin/setup-network"
            }
        ],
        "createRuntime": [
            {
                "path": "/usr/bin/fix-mounts",
                "args": [
                    "fix-mounts",
                    "arg1",
                    "arg2"
                ],
                "env": [
                    "key1=value1"
                ]
            },
            {
                "path": "/usr/bin/setup-network"
            }
        ],
        "createContainer": [
            {
                "path": "/usr/bin/mount-hook",
                "args": [
                    "-mount",
                    "arg1",
                    "arg2"
                ],
                "env": [
                    "key1=value1"
                ]
            }
        ],
        "startContainer": [
            {
                "path": "/usr/bin/refresh-ldcache"
            }
        ],
        "poststart": [
            {
                "path": "/usr/bin/notify-start",
                "timeout": 5
            }
        ],
        "poststop": [
            {
                "path": "/usr/sbin/cleanup.sh",
                "args": [
                    "cleanup.sh",
                    "-f"
                ]
            }
        ]
    },
    "linux": {
        "devices": [
            {
                "path": "/dev/fuse",
                "type": "c",
                "major": 10,
                "minor": 229,
                "fileMode": 438,
                "uid": 0,
                "gid": 0
            },
            {
                "path": "/dev/sda",
                "type": "b",
                "major": 8,
                "minor": 0,
                "fileMode": 432,
                "uid": 0,
                "gid": 0
            }
        ],
        "uidMappings": [
            {
                "containerID": 0,
                "hostID": 1000,
                "size": 32000
            }
        ],
        "gidMappings": [
            {
                "containerID": 0,
                "hostID": 1000,
                "size": 32000
            }
        ],
        "sysctl": {
            "net.ipv4.ip_forward": "1",
            "net.core.somaxconn": "256"
        },
        "cgroupsPath": "/myRuntime/myContainer",
        "resources": {
            "network": {
                "classID": 1048577,
                "priorities": [
                    {
                        "name": "eth0",
                        "priority": 500
                    },
                    {
                        "name": "eth1",
                        "priority": 1000
                    }
                ]
            },
            "pids": {
                "limit": 32771
            },
            "hugepageLimits": [
                {
                    "pageSize": "2MB",
                    "limit": 9223372036854772000
                },
                {
                    "pageSize": "64KB",
                    "limit": 1000000
                }
            ],
            "oomScoreAdj": 100,
            "memory": {
                "limit": 536870912,
                "reservation": 536870912,
                "swap": 536870912,
                "kernel": -1,
                "kernelTCP": -1,
                "swappiness": 0,
                "disableOOMKiller": false,
                "useHierarchy": false,
                "checkBeforeUpdate": false
            },
            "cpu": {
                "shares": 1024,
                "quota": 1000000,
                "burst": 1000000,
                "period": 500000,
                "realtimeRuntime": 950000,
                "realtimePeriod": 1000000,
                "cpus": "2-3",
                "mems": "0-7"
            },
            "devices": [
                {
                    "allow": false,
                    "access": "rwm"
                },
                {
                    "allow": true,
                    "type": "c",
                    "major": 10,
                    "minor": 229,
                    "access": "rw"
                },
                {
                    "allow": true,
                    "type": "b",
                    "major": 8,
                    "minor": 0,
                    "access": "r"
                }
            ],
            "blockIO": {
                "weight": 10,
                "leafWeight": 10,
                "weightDevice": [
                    {
                        "major": 8,
                        "minor": 0,
                        "weight": 500,
                        "leafWeight": 300
                    },
                    {
                        "major": 8,
                        "minor": 16,
                        "weight": 500
                    }
                ],
                "throttleReadBpsDevice": [
                    {
                        "major": 8,
                        "minor": 0,
                        "rate": 600
                    }
                ],
                "throttleWriteIOPSDevice": [
                    {
                        "major": 8,
                        "minor": 16,
                        "rate": 300
                    }
                ]
            }
        },
        "rootfsPropagation": "slave",
        "seccomp": {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": [
                "SCMP_ARCH_X86",
                "SCMP_ARCH_X32"
            ],
            "syscalls": [
                {
                    "names": [
                        "getcwd",
                        "chmod"
                    ],
                    "action": "SCMP_ACT_ERRNO"
                }
            ]
        },
        "timeOffsets": {
            "monotonic": {
                "secs": 172800,
                "nanosecs": 0
            },
            "boottime": {
                "secs": 604800,
                "nanosecs": 0
            }
        },
        "namespaces": [
            {
                "type": "pid"
            },
            {
                "type": "network"
            },
            {
                "type": "ipc"
            },
            {
                "type": "uts"
            },
            {
                "type": "mount"
            },
            {
                "type": "user"
            },
            {
                "type": "cgroup"
            },
            {
                "type": "time"
            }
        ],
        "maskedPaths": [
            "/proc/kcore",
            "/proc/latency_stats",
            "/proc/timer_stats",
            "/proc/sched_debug"
        ],
        "readonlyPaths": [
            "/proc/asound",
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger"
        ],
        "mountLabel": "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811"
    },
    "annotations": {
        "com.example.key1": "value1",
        "com.example.key2": "value2"
    }
}
"""#

    /// opencontainers/runtime-spec schema/test/state/good/spec-example.json (Apache-2.0).
    static let runtimeSpecStateExample = #"""
{
    "ociVersion": "0.2.0",
    "id": "oci-container1",
    "status": "running",
    "pid": 4422,
    "bundle": "/containers/redis",
    "annotations": {
        "myKey": "myValue"
    }
}
"""#

    /// Real `runc state` output (runc 1.1.5) for a running container.
    static let runcStateRunning = #"""
{
  "ociVersion": "1.0.2-dev",
  "id": "fascotest2",
  "pid": 6755,
  "status": "running",
  "bundle": "/tmp/specgen/bundle",
  "rootfs": "/tmp/specgen/bundle/rootfs",
  "created": "2026-11-22T05:08:46.244042474Z",
  "annotations": {
    "io.kubernetes.cri.container-type": "container"
  },
  "owner": ""
}
"""#

    /// Real `runc state` output (runc 1.1.5) after the process was killed.
    static let runcStateStopped = #"""
{
  "ociVersion": "1.0.2-dev",
  "id": "fascotest2",
  "pid": 0,
  "status": "stopped",
  "bundle": "/tmp/specgen/bundle",
  "rootfs": "/tmp/specgen/bundle/rootfs",
  "created": "2026-11-22T05:08:46.244042474Z",
  "annotations": {
    "io.kubernetes.cri.container-type": "container"
  },
  "owner": ""
}
"""#

    /// `crun state` output, shaped as crun's `crun_command_state` writes it (member order, the
    /// `systemd-scope` extension when the systemd cgroup manager is used, `owner`).
    static let crunState = #"""
{
  "ociVersion": "1.0.0",
  "id": "k8s-pause-0123456789ab",
  "pid": 48211,
  "status": "created",
  "bundle": "/run/fasco/containers/0123456789ab/bundle",
  "rootfs": "/run/fasco/containers/0123456789ab/bundle/rootfs",
  "created": "2025-03-04T10:11:12.123456789Z",
  "systemd-scope": "crun-k8s-pause-0123456789ab.scope",
  "owner": "root",
  "annotations": {
    "io.kubernetes.cri.sandbox-id": "0123456789ab"
  }
}
"""#

    /// Exercises every modelled Linux field not covered by the other fixtures; only spec members, so it
    /// must re-encode to the same JSON.
    static let everyLinuxField = #"""
{
  "ociVersion": "1.2.1",
  "process": {
    "terminal": false,
    "consoleSize": { "height": 25, "width": 80 },
    "user": { "uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [10, 20] },
    "args": ["/pause"],
    "env": ["PATH=/usr/bin:/bin", "HOSTNAME=pod"],
    "cwd": "/work",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_NET_RAW"],
      "effective": ["CAP_CHOWN"],
      "permitted": ["CAP_CHOWN", "CAP_NET_RAW"]
    },
    "rlimits": [
      { "type": "RLIMIT_NOFILE", "hard": 18446744073709551615, "soft": 1048576 }
    ],
    "noNewPrivileges": true,
    "apparmorProfile": "cri-containerd.apparmor.d",
    "oomScoreAdj": -998,
    "scheduler": {
      "policy": "SCHED_DEADLINE",
      "nice": -5,
      "priority": 0,
      "flags": ["SCHED_FLAG_RESET_ON_FORK"],
      "runtime": 10000000,
      "deadline": 20000000,
      "period": 30000000
    },
    "selinuxLabel": "system_u:system_r:container_t:s0:c1,c2",
    "ioPriority": { "class": "IOPRIO_CLASS_BE", "priority": 4 },
    "execCPUAffinity": { "initial": "0", "final": "1-3" }
  },
  "root": { "path": "/var/lib/fasco/rootfs/abc", "readonly": false },
  "hostname": "pod-a",
  "domainname": "cluster.local",
  "mounts": [
    {
      "destination": "/data",
      "type": "bind",
      "source": "/var/lib/kubelet/pods/x/volumes/data",
      "options": ["rbind", "rprivate", "idmap"],
      "uidMappings": [{ "containerID": 0, "hostID": 100000, "size": 65536 }],
      "gidMappings": [{ "containerID": 0, "hostID": 100000, "size": 65536 }]
    }
  ],
  "hooks": {
    "createRuntime": [{ "path": "/usr/libexec/oci/hooks.d/net", "args": ["net", "up"], "env": ["A=b"], "timeout": 10 }]
  },
  "annotations": { "io.kubernetes.cri.container-type": "sandbox" },
  "linux": {
    "uidMappings": [{ "containerID": 0, "hostID": 100000, "size": 65536 }],
    "gidMappings": [{ "containerID": 0, "hostID": 100000, "size": 65536 }],
    "sysctl": { "net.ipv4.ping_group_range": "0 2147483647" },
    "resources": {
      "devices": [{ "allow": false, "access": "rwm" }, { "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm" }],
      "memory": {
        "limit": 9223372036854775807,
        "reservation": 134217728,
        "swap": -1,
        "kernelTCP": 67108864,
        "swappiness": 60,
        "disableOOMKiller": true,
        "useHierarchy": true,
        "checkBeforeUpdate": true
      },
      "cpu": {
        "shares": 2,
        "quota": -1,
        "burst": 0,
        "period": 100000,
        "realtimeRuntime": 0,
        "realtimePeriod": 0,
        "cpus": "0-3,7",
        "mems": "0",
        "idle": 1
      },
      "pids": { "limit": -1 },
      "blockIO": {
        "weight": 500,
        "throttleWriteBpsDevice": [{ "major": 8, "minor": 0, "rate": 1048576 }],
        "throttleReadIOPSDevice": [{ "major": 8, "minor": 0, "rate": 100 }]
      },
      "hugepageLimits": [{ "pageSize": "1GB", "limit": 0 }],
      "network": { "classID": 7 },
      "rdma": { "mlx5_1": { "hcaHandles": 3, "hcaObjects": 10000 } },
      "unified": { "memory.high": "1073741824", "io.weight": "default 100" }
    },
    "cgroupsPath": "kubepods-besteffort.slice:fasco:abc",
    "namespaces": [
      { "type": "pid" },
      { "type": "network", "path": "/var/run/netns/cni-1234" },
      { "type": "ipc", "path": "/proc/4242/ns/ipc" },
      { "type": "uts" },
      { "type": "mount" },
      { "type": "user" },
      { "type": "cgroup" },
      { "type": "time" }
    ],
    "devices": [
      { "path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200, "fileMode": 438, "uid": 0, "gid": 0 },
      { "path": "/dev/myfifo", "type": "p" }
    ],
    "netDevices": { "eth1": { "name": "net1" }, "ens5": {} },
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 38,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
      "listenerPath": "/run/seccomp-agent.sock",
      "listenerMetadata": "MKNOD=/dev/null",
      "syscalls": [
        { "names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW" },
        {
          "names": ["personality"],
          "action": "SCMP_ACT_ALLOW",
          "args": [{ "index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ" }]
        },
        {
          "names": ["clone"],
          "action": "SCMP_ACT_ERRNO",
          "errnoRet": 1,
          "args": [{ "index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" }]
        },
        { "names": ["mknod"], "action": "SCMP_ACT_NOTIFY" }
      ]
    },
    "rootfsPropagation": "rslave",
    "maskedPaths": ["/proc/acpi", "/proc/kcore"],
    "readonlyPaths": ["/proc/bus", "/proc/sys"],
    "mountLabel": "system_u:object_r:container_file_t:s0:c1,c2",
    "intelRdt": {
      "closID": "guaranteed_group",
      "schemata": ["L3:0=7f0;1=1f", "MB:0=20;1=70"],
      "l3CacheSchema": "L3:0=ffff",
      "memBwSchema": "MB:0=50",
      "enableMonitoring": true
    },
    "memoryPolicy": { "mode": "MPOL_INTERLEAVE", "nodes": "2-3", "flags": ["MPOL_F_STATIC_NODES"] },
    "personality": { "domain": "LINUX32", "flags": [] },
    "timeOffsets": { "monotonic": { "secs": -3600, "nanosecs": 500 } }
  }
}
"""#

    /// Unknown members at every level, non-Linux platform objects, and values no spec defines (yet).
    static let unknownMembersAndValues = #"""
{
  "ociVersion": "9.9.9",
  "futureTopLevel": { "nested": [1, 2, { "x": null }] },
  "process": {
    "user": { "uid": 0, "gid": 0, "futureUserField": true },
    "cwd": "/",
    "args": ["sh"],
    "futureProcessField": "x",
    "rlimits": [{ "type": "RLIMIT_FUTURE", "hard": 1, "soft": 1, "extra": 1 }],
    "scheduler": { "policy": "SCHED_EXT", "flags": ["SCHED_FLAG_FUTURE"] },
    "ioPriority": { "class": "IOPRIO_CLASS_NONE", "priority": 0 }
  },
  "root": { "path": "rootfs", "futureRootField": 1.5 },
  "windows": { "layerFolders": ["C:\\layers\\1"] },
  "solaris": { "milestone": "svc:/milestone/container:default" },
  "vm": { "kernel": { "path": "/boot/vmlinuz" } },
  "linux": {
    "namespaces": [{ "type": "pid" }, { "type": "futurens", "path": "/proc/1/ns/futurens" }],
    "seccomp": {
      "defaultAction": "SCMP_ACT_FUTURE",
      "architectures": ["SCMP_ARCH_FUTURE64"],
      "flags": ["SECCOMP_FILTER_FLAG_FUTURE"],
      "syscalls": [{ "names": ["open"], "action": "SCMP_ACT_ALLOW", "args": [{ "index": 1, "value": 2, "op": "SCMP_CMP_FUTURE" }] }]
    },
    "memoryPolicy": { "mode": "MPOL_FUTURE", "flags": ["MPOL_F_FUTURE"] },
    "personality": { "domain": "LINUX_FUTURE" },
    "resources": { "futureController": { "a": 1 }, "memory": { "limit": 1, "futureKnob": 2 } },
    "futureLinuxField": []
  }
}
"""#
}
