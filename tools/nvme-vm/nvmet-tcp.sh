# SPDX-License-Identifier: MIT
# nvmet-tcp.sh - sourced by the guest's init (NVME_VM_TCP=1): NVMe over TCP
# inside one guest.  A target exports a memory-backed null_blk device
# (with discard, so Dataset Management works: nvmet on 6.12 refuses it
# otherwise) as namespace 1 of subsystem urio-tcp on 127.0.0.1:4420; the
# host side connects through /dev/nvme-fabrics; the namespace's generic and
# block devices are exported as NVME_VM_TCP_NG and NVME_VM_TCP_BLK.  busybox sh; returns
# non-zero (and says why) if any step fails.
nvmet_tcp_setup() {
	local cfg=/sys/kernel/config nqn=urio-tcp sub port i inst ctrl

	grep -q " $cfg configfs" /proc/mounts ||
		mount -t configfs configfs $cfg || return 1
	ip link set lo up || return 1
	[ -b /dev/nullb0 ] || { echo "nvmet-tcp: no /dev/nullb0"; return 1; }
	sub=$cfg/nvmet/subsystems/$nqn
	mkdir $sub || return 1
	echo 1 >$sub/attr_allow_any_host || return 1
	mkdir $sub/namespaces/1 || return 1
	echo -n /dev/nullb0 >$sub/namespaces/1/device_path || return 1
	echo 1 >$sub/namespaces/1/enable || return 1
	port=$cfg/nvmet/ports/1
	mkdir $port || return 1
	echo ipv4 >$port/addr_adrfam && echo tcp >$port/addr_trtype &&
		echo 127.0.0.1 >$port/addr_traddr &&
		echo 4420 >$port/addr_trsvcid || return 1
	ln -s $sub $port/subsystems/$nqn || return 1
	# One poll queue, so IOPOLL rings work on this controller as on PCIe.
	exec 3<>/dev/nvme-fabrics || return 1
	echo "transport=tcp,traddr=127.0.0.1,trsvcid=4420,nqn=$nqn,nr_poll_queues=1" >&3 ||
		{ exec 3>&-; echo "nvmet-tcp: connect failed"; return 1; }
	read -r inst <&3 # "instance=N,cntlid=M"
	exec 3>&-
	inst=${inst#instance=}
	ctrl=nvme${inst%%,*}
	i=0
	while [ ! -c /dev/ng${inst%%,*}n1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -c /dev/ng${inst%%,*}n1 ] || { echo "nvmet-tcp: /dev/ng${inst%%,*}n1 did not appear ($ctrl)"; ls /dev; return 1; }
	export NVME_VM_TCP_CTRL=/dev/$ctrl
	export NVME_VM_TCP_NG=/dev/ng${inst%%,*}n1
	export NVME_VM_TCP_BLK=/dev/nvme${inst%%,*}n1
}
nvmet_tcp_setup
