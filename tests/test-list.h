/* SPDX-License-Identifier: MIT */
/* test-list.h - every Check case of urio, one line each:
 *
 *   URIO_TEST(group, case, backends, properties)
 *
 * group: the case's body is in tests/test_<group>.c, and meson runs each
 * group as its own test (test_<group>, test_<group>-aio, ...).
 * backends: BOTH (io_uring, then libaio: one body, two runs), URING
 * (io_uring only; the comment above the line says why), ANY (runs once:
 * the case needs no loop, or chooses its backends itself).
 * properties: T_* from runner.h, or 0.  A case whose properties this
 * machine does not meet is reported skipped, with the reason.
 *
 * Adding a case: its body in the group's file, one line here.  Adding a
 * group: a new tests/test_<group>.c and its lines here; meson.build reads
 * this file.  One line per case, always: meson reads it line by line. */

/* clang-format off */

URIO_TEST(bad_input, null_loop_is_einval_everywhere, ANY, T_NOFORK)
URIO_TEST(bad_input, null_target_and_null_out_params_are_einval, BOTH, T_NOFORK)
URIO_TEST(bad_input, null_buffer_or_callback_is_einval, BOTH, T_NOFORK)
URIO_TEST(bad_input, zero_huge_and_overflowing_sizes_are_einval, BOTH, T_NOFORK)
URIO_TEST(bad_input, bad_iovecs_are_einval, BOTH, T_NOFORK)
URIO_TEST(bad_input, misaligned_direct_io_is_einval_aligned_io_works, BOTH, T_NOFORK)
URIO_TEST(bad_input, closed_target_is_ebadf, BOTH, T_NOFORK)
URIO_TEST(bad_input, options_struct_with_wrong_size_is_refused, BOTH, T_NOFORK)
URIO_TEST(bad_input, unknown_flags_and_values_are_einval, BOTH, T_NOFORK)
URIO_TEST(bad_input, open_of_missing_file_passes_the_kernels_errno, BOTH, T_NOFORK)
URIO_TEST(bad_input, calls_from_a_thread_that_does_not_own_the_loop_are_eperm, BOTH, T_NOFORK)
URIO_TEST(bad_input, loop_used_after_fork_is_eownerdead_and_parent_is_untouched, BOTH, T_NOFORK)
URIO_TEST(bad_input, strerror_explains_urio_codes_and_passes_others, ANY, T_NOFORK)
URIO_TEST(bad_input, newer_calls_refuse_bad_input_too, BOTH, T_NOFORK)

/* URING: a read from an empty pipe blocks inside io_submit on libaio. */
URIO_TEST(destroy, destroy_with_thousands_in_flight_runs_each_callback_once, URING, T_NOFORK)
URIO_TEST(destroy, destroy_with_unsubmitted_requests_runs_each_callback_once, BOTH, T_NOFORK)
URIO_TEST(destroy, destroy_with_file_io_in_flight_keeps_real_results, BOTH, T_NOFORK)
URIO_TEST(destroy, destroy_inside_a_callback_is_refused_with_edeadlk, BOTH, T_NOFORK)
URIO_TEST(destroy, destroy_of_idle_loop_and_of_null, BOTH, T_NOFORK)
URIO_TEST(destroy, close_target_with_requests_in_flight_is_ebusy, URING, T_NOFORK)
URIO_TEST(destroy, callbacks_may_submit_during_a_run, BOTH, T_NOFORK)

/* URING: pipe reads (block inside io_submit on libaio). */
URIO_TEST(embed_fd, epoll_wakes_for_a_completion_on_the_only_ring, URING, 0)
URIO_TEST(embed_fd, epoll_wakes_for_a_completion_on_the_second_ring, URING, 0)
URIO_TEST(embed_fd, many_nops_through_epoll_all_complete, BOTH, 0)

URIO_TEST(hist, percentiles_within_one_percent_of_exact, ANY, 0)
URIO_TEST(hist, merge_equals_one_histogram_of_everything, ANY, 0)
URIO_TEST(hist, small_values_are_exact_and_empty_is_zero, ANY, 0)

/* URING: ring_stats_add_up... counts rings; libaio serves one context. */
/* The parser's cases need no loop (ANY); the server's run on both backends,
 * the server started with io_uring refused on the libaio pass; T_SERIAL:
 * they bind ports and start servers. */
URIO_TEST(httpd, head_ends_at_an_empty_line_after_crlf_or_lf, ANY, 0)
URIO_TEST(httpd, head_past_its_limits_is_414_or_431, ANY, 0)
URIO_TEST(httpd, requests_are_read_as_rfc9112_says, ANY, 0)
URIO_TEST(httpd, malformed_heads_are_refused, ANY, 0)
URIO_TEST(httpd, paths_decode_beneath_the_root_or_are_refused, ANY, 0)
URIO_TEST(httpd, get_serves_the_file_with_its_length, BOTH, T_SERIAL)
URIO_TEST(httpd, replies_carry_a_date_and_the_files_media_type, BOTH, T_SERIAL)
URIO_TEST(httpd, head_sends_no_body, BOTH, T_SERIAL)
URIO_TEST(httpd, head_then_400_from_another_connection_has_its_body, BOTH, T_SERIAL)
URIO_TEST(httpd, missing_file_is_404, BOTH, T_SERIAL)
URIO_TEST(httpd, paths_out_of_the_root_are_refused, BOTH, T_SERIAL)
URIO_TEST(httpd, malformed_requests_are_400_and_close, BOTH, T_SERIAL)
URIO_TEST(httpd, other_methods_get_405_with_allow, BOTH, T_SERIAL)
URIO_TEST(httpd, http11_needs_host_and_http10_does_not, BOTH, T_SERIAL)
URIO_TEST(httpd, long_request_line_is_414_and_long_head_431, BOTH, T_SERIAL)
URIO_TEST(httpd, unsupported_version_is_505, BOTH, T_SERIAL)
URIO_TEST(httpd, lf_only_lines_are_answered, BOTH, T_SERIAL)
URIO_TEST(httpd, lower_case_connection_close_is_honoured, BOTH, T_SERIAL)
URIO_TEST(httpd, keep_alive_serves_pipelined_requests_on_one_connection, BOTH, T_SERIAL)
URIO_TEST(httpd, a_body_is_never_read_as_a_request, BOTH, T_SERIAL)
URIO_TEST(httpd, after_a_last_reply_the_server_reads_on_before_closing, BOTH, T_SERIAL)
URIO_TEST(httpd, directories_redirect_or_need_an_index, BOTH, T_SERIAL)
URIO_TEST(httpd, a_fifo_is_refused_at_once, BOTH, T_SERIAL)
URIO_TEST(httpd, a_device_node_is_refused_at_once, BOTH, T_SERIAL)
URIO_TEST(httpd, slow_clients_are_cut_off_by_the_header_timeout, BOTH, T_SERIAL)
URIO_TEST(httpd, idle_keep_alive_connections_are_closed_after_the_idle_timeout, BOTH, T_SERIAL)
URIO_TEST(httpd, held_connections_under_a_small_fd_limit_do_not_stop_service, BOTH, T_SERIAL)
URIO_TEST(httpd, out_of_descriptors_is_said_once_and_accept_backs_off, BOTH, T_SERIAL)
URIO_TEST(httpd, a_connection_just_accepted_is_not_closed_for_the_next, BOTH, T_SERIAL)
URIO_TEST(httpd, at_the_connection_cap_the_oldest_idle_one_makes_room, BOTH, T_SERIAL)
URIO_TEST(httpd, a_second_instance_on_the_port_fails, BOTH, T_SERIAL)
URIO_TEST(httpd, bind_to_ipv6_loopback_serves, BOTH, T_SERIAL)
URIO_TEST(httpd, bad_options_are_refused_saying_why, BOTH, T_SERIAL)
URIO_TEST(httpd, ten_thousand_idle_connections_leave_room_for_a_normal_client, BOTH, T_SERIAL)
URIO_TEST(httpd, requests_past_the_descriptors_wait_for_one, BOTH, T_SERIAL)
URIO_TEST(httpd, the_open_file_cache_serves_what_it_opened_until_its_time_is_up, BOTH, T_SERIAL)
URIO_TEST(httpd, the_open_file_cache_gives_back_descriptors_when_they_run_out, BOTH, T_SERIAL)
URIO_TEST(httpd, a_1_mib_file_is_served_intact_through_sendfile, BOTH, T_SERIAL)
URIO_TEST(httpd, slow_readers_past_the_sendfiles_pin_little_memory, BOTH, T_SERIAL)
URIO_TEST(httpd, a_client_that_stops_reading_mid_body_is_timed_out, BOTH, T_SERIAL)
URIO_TEST(httpd, pipelined_requests_split_across_receives_are_each_answered, BOTH, T_SERIAL)
URIO_TEST(httpd, files_past_a_mount_point_are_answered_alike, BOTH, T_MOUNT | T_SERIAL)

URIO_TEST(inflight_bound, never_more_than_cap_in_flight_over_100000_requests, BOTH, 0)
URIO_TEST(inflight_bound, rejects_past_cap_with_ebusy_and_queues_nothing, BOTH, 0)
URIO_TEST(inflight_bound, target_cap_binds_one_target_not_the_others, BOTH, 0)
URIO_TEST(inflight_bound, wait_flag_runs_the_loop_until_a_slot_frees, BOTH, 0)
URIO_TEST(inflight_bound, cap_never_exceeds_cq_capacity, BOTH, 0)
URIO_TEST(inflight_bound, strict_loop_refuses_a_cap_it_cannot_hold, BOTH, 0)
URIO_TEST(inflight_bound, ring_stats_add_up_to_loop_stats, URING, 0)
URIO_TEST(inflight_bound, ebusy_text_says_bound_not_memory, ANY, 0)

/* URING: libaio serves buffered I/O synchronously, in io_submit: there
 * is nothing concurrent to stress. */
URIO_TEST(integrity_stress, buffered_threads_verify_every_byte, URING, 0)
URIO_TEST(integrity_stress, direct_threads_verify_every_byte, BOTH, 0)

URIO_TEST(io_faults, full_tmpfs_gives_enospc_per_write_inline_path, BOTH, T_MOUNT | T_SERIAL)
URIO_TEST(io_faults, full_tmpfs_gives_enospc_per_write_io_uring_path, URING, T_MOUNT | T_SERIAL)
URIO_TEST(io_faults, file_truncated_under_its_requests_reads_short, BOTH, T_SERIAL)
URIO_TEST(io_faults, loop_device_over_a_full_store_gives_io_errors, BOTH, T_MOUNT | T_LOOPDEV | T_SERIAL)
URIO_TEST(io_faults, bench_on_a_full_tmpfs_says_what_failed_and_exits_nonzero, ANY, T_MOUNT | T_BENCH | T_SERIAL)

URIO_TEST(io_integrity, roundtrip_10000_blocks_tmpfs_buffered, BOTH, T_TMPFS)
URIO_TEST(io_integrity, roundtrip_10000_blocks_tmpfs_direct, BOTH, T_TMPFS)
URIO_TEST(io_integrity, roundtrip_10000_blocks_disk_buffered, BOTH, 0)
URIO_TEST(io_integrity, roundtrip_10000_blocks_disk_direct, BOTH, 0)
URIO_TEST(io_integrity, readv_writev_scatter_and_gather, BOTH, 0)
URIO_TEST(io_integrity, fsync_and_fdatasync_complete_with_zero, BOTH, 0)
URIO_TEST(io_integrity, read_past_end_returns_short_count, BOTH, 0)
URIO_TEST(io_integrity, write_on_read_only_target_fails_with_ebadf, BOTH, 0)
URIO_TEST(io_integrity, nop_completes_with_zero, BOTH, 0)
URIO_TEST(io_integrity, direct_target_reports_its_alignment, BOTH, 0)
URIO_TEST(io_integrity, tmpfs_reads_run_inline_and_disk_reads_through_the_backend, BOTH, T_TMPFS)
URIO_TEST(io_integrity, registered_file_target_reads_back_what_it_wrote, BOTH, 0)

/* Each case forks a child that takes the fault; the child picks the
 * backends it means to see. */
URIO_TEST(memlock_ladder, small_memlock_limit_gives_rings_that_fit_and_io_works, ANY, T_ROOT | T_SERIAL)
URIO_TEST(memlock_ladder, planner_model_matches_what_the_kernel_allows, ANY, T_ROOT | T_SERIAL)
URIO_TEST(memlock_ladder, buffer_pool_larger_than_the_limit_is_cut_and_reported, ANY, T_ROOT | T_SERIAL)
URIO_TEST(memlock_ladder, when_nothing_fits_the_error_names_the_limit_and_the_fix, ANY, T_ROOT | T_LIBAIO | T_SERIAL)
URIO_TEST(memlock_ladder, shared_memlock_and_aio_max_nr_are_named_when_used_up, ANY, T_ROOT | T_LIBAIO | T_SERIAL)
URIO_TEST(memlock_ladder, enomem_above_32_entries_gives_more_rings_of_at_most_32, ANY, T_SERIAL)
URIO_TEST(memlock_ladder, enosys_from_io_uring_setup_serves_on_libaio, ANY, T_LIBAIO | T_SERIAL)
URIO_TEST(memlock_ladder, eperm_from_io_uring_setup_serves_on_libaio, ANY, T_LIBAIO | T_SERIAL)
URIO_TEST(memlock_ladder, root_with_cap_ipc_lock_gets_what_it_asks, URING, T_ROOT | T_SERIAL)

/* URING: rings are io_uring's; libaio has one context (and pipe reads
 * block inside io_submit). */
URIO_TEST(multi_ring, one_blocking_run_returns_completions_of_the_second_ring, URING, 0)
URIO_TEST(multi_ring, one_blocking_run_returns_completions_of_the_fourth_ring, URING, 0)
URIO_TEST(multi_ring, single_ring_blocking_run_waits_for_the_kernel, URING, 0)
URIO_TEST(multi_ring, layout_lists_every_ring, URING, 0)
URIO_TEST(multi_ring, second_ring_takes_over_when_the_first_is_full, URING, 0)
URIO_TEST(multi_ring, pinned_ring_full_means_ebusy_even_if_others_have_room, URING, 0)

URIO_TEST(net, echo_over_loopback_with_hundreds_of_connections, BOTH, 0)
URIO_TEST(net, send_of_8_mib_to_a_slow_reader_completes_in_full, BOTH, 0)
URIO_TEST(net, peer_reset_mid_transfer_fails_its_requests_and_the_loop_goes_on, BOTH, 0)
URIO_TEST(net, pending_accept_is_cancelled_on_destroy, BOTH, 0)
URIO_TEST(net, deadline_fires_on_a_stalled_recv, BOTH, 0)
URIO_TEST(net, cancel_by_fd_cancels_every_request_on_it, BOTH, 0)
URIO_TEST(net, poll_shutdown_close_and_refused_connect, BOTH, 0)
URIO_TEST(net, epoll_server_embeds_urio_for_its_sockets, BOTH, 0)
URIO_TEST(net, msg_flags_are_not_urio_flags, BOTH, 0)
URIO_TEST(net, recv_all_that_arrives_in_pieces_completes_once_in_full, BOTH, 0)
URIO_TEST(net, sendmsg_all_of_many_iovecs_to_a_slow_reader_arrives_in_order, BOTH, 0)
URIO_TEST(net, deadline_ends_idle_accept_and_poll_and_keeps_partial_bytes, BOTH, 0)
URIO_TEST(net, cancel_fd_with_polls_outstanding_takes_no_data, BOTH, 0)
URIO_TEST(net, peer_reset_during_a_send_all_returns_what_was_sent, BOTH, 0)
URIO_TEST(net, destroy_with_polls_outstanding_cancels_each_once_and_keeps_fds, BOTH, 0)
URIO_TEST(net, poll_on_a_signalfd_sees_the_signal, BOTH, 0)

URIO_TEST(nvme_encode, read_and_write_encode_slba_nlb_and_buffer, ANY, 0)
URIO_TEST(nvme_encode, flush_write_zeroes_and_deallocate_encode, ANY, 0)
URIO_TEST(nvme_encode, sqe128_carries_the_command, ANY, 0)
URIO_TEST(nvme_encode, ranges_are_checked_against_the_namespace, ANY, 0)
URIO_TEST(nvme_encode, mdts_splits_into_whole_commands, ANY, 0)
URIO_TEST(nvme_encode, nvme_status_maps_to_errno, ANY, 0)
URIO_TEST(nvme_encode, cmd_op_values_are_the_kernel_abi, ANY, 0)
URIO_TEST(nvme_encode, read_and_its_sqe_are_byte_exact, ANY, 0)
URIO_TEST(nvme_encode, one_step_sqe_equals_command_then_sqe, ANY, 0)
URIO_TEST(nvme_encode, vectored_command_carries_the_iovec_array_and_count, ANY, 0)
URIO_TEST(nvme_encode, iovec_arrays_are_checked_before_encoding, ANY, 0)
URIO_TEST(nvme_encode, identify_controller_and_namespace_encode, ANY, 0)
URIO_TEST(nvme_encode, get_log_page_encodes_lid_numd_rae_and_offset, ANY, 0)
URIO_TEST(nvme_encode, smart_log_decodes_what_nvme_cli_prints, ANY, 0)
URIO_TEST(nvme_encode, error_log_entry_decodes, ANY, 0)
URIO_TEST(nvme_encode, identify_pages_decode, ANY, 0)
URIO_TEST(nvme_encode, decoders_check_lengths_and_fill_as_far_as_size_reaches, ANY, 0)

/* NVMe calls on a host without NVMe: what they refuse, and why. */
URIO_TEST(nvme_api, admin_calls_refuse_what_is_not_a_controller, BOTH, T_NOFORK)
URIO_TEST(nvme_api, nvme_result_outside_a_callback_is_zero, BOTH, T_NOFORK)

/* Inside tools/nvme-vm's guest only (meson builds the group statically
 * and runs it there): URING, because passthrough is io_uring's
 * (URING_CMD); each case runs on the PCIe namespace, then (row 1) on the
 * NVMe/TCP one. */
URIO_TEST(nvme_vm, write_read_back_through_passthrough, URING, T_NVME)
URIO_TEST(nvme_vm, write_read_back_with_fixed_buffers, URING, T_NVME)
URIO_TEST(nvme_vm, write_read_back_with_iopoll, URING, T_NVME)
URIO_TEST(nvme_vm, plain_and_passthrough_rings_serve_one_loop, URING, T_NVME)
URIO_TEST(nvme_vm, bad_ranges_are_refused_before_submission, URING, T_NVME)
URIO_TEST(nvme_vm, raw_command_past_the_end_returns_the_nvme_status, URING, T_NVME)
URIO_TEST(nvme_vm, inflight_cap_holds_on_the_passthrough_ring, URING, T_NVME)
URIO_TEST(nvme_vm, destroy_with_passthrough_requests_in_flight, URING, T_NVME)
URIO_TEST(nvme_vm, requests_past_mdts_split_and_complete_once, URING, T_NVME)
URIO_TEST(nvme_vm, block_device_switches_to_its_generic_sibling, URING, T_NVME)
URIO_TEST(nvme_vm, flush_write_zeroes_and_trim_complete, URING, T_NVME)
URIO_TEST(nvme_vm, threads_with_a_loop_each_verify_every_byte, URING, T_NVME)
URIO_TEST(nvme_vm, bench_writes_and_verifies_every_block, URING, T_NVME | T_BENCH)
URIO_TEST(nvme_vm, short_path_counts_each_request_once_on_its_ring, URING, T_NVME)
URIO_TEST(nvme_vm, readv_and_writev_are_one_vectored_command_each, URING, T_NVME)
URIO_TEST(nvme_vm, vectored_requests_are_checked_before_anything_is_queued, URING, T_NVME)
URIO_TEST(nvme_vm, vectored_and_admin_requests_wait_in_the_backlog_intact, URING, T_NVME)
URIO_TEST(nvme_vm, controller_target_takes_admin_commands_only, URING, T_NVME)
URIO_TEST(nvme_vm, identify_through_the_api_matches_the_device, URING, T_NVME)
URIO_TEST(nvme_vm, smart_log_through_the_api_counts_the_reads_we_make, URING, T_NVME)
URIO_TEST(nvme_vm, error_log_through_the_api_reads_whole_entries, URING, T_NVME)
URIO_TEST(nvme_vm, admin_status_and_result_reach_the_callback, URING, T_NVME)
URIO_TEST(nvme_vm, a_polled_wait_reports_no_signal_that_was_not_sent, URING, T_NVME)
URIO_TEST(nvme_vm, nvme_commands_run_to_their_end_and_others_still_cancel, URING, T_NVME)
URIO_TEST(nvme_vm, a_polled_loop_keeps_its_fd_readable_while_it_must_poll, URING, T_NVME)
URIO_TEST(nvme_vm, a_user_gets_the_namespace_or_a_clear_refusal, URING, T_NVME | T_ROOT)

URIO_TEST(plan, charge_model_matches_the_kernel_measurements, ANY, 0)
URIO_TEST(plan, entries_round_up_to_powers_of_two_like_the_kernel, ANY, 0)
URIO_TEST(plan, passthrough_rings_cost_more, ANY, 0)
URIO_TEST(plan, table_of_budgets, ANY, 0)
URIO_TEST(plan, largest_ring_under_64KiB_is_512_entries, ANY, 0)
URIO_TEST(plan, cut_keeps_capacity_with_more_smaller_rings_when_it_can, ANY, 0)
URIO_TEST(plan, max_rings_bounds_the_split, ANY, 0)
URIO_TEST(plan, buffers_take_what_the_rings_leave, ANY, 0)
URIO_TEST(plan, buffers_that_fit_are_not_cut, ANY, 0)
URIO_TEST(plan, no_room_for_buffers_means_none, ANY, 0)

URIO_TEST(reentrancy, callback_that_runs_the_loop_leaves_it_consistent, BOTH, T_TMPFS | T_NOFORK)
URIO_TEST(reentrancy, every_call_from_a_callback_answers_and_the_loop_goes_on, BOTH, T_NOFORK)
URIO_TEST(reentrancy, wait_inside_callbacks_fans_out_a_million_nops_on_a_flat_stack, BOTH, T_NOFORK)
URIO_TEST(reentrancy, wait_inside_callbacks_fans_out_a_million_inline_reads, BOTH, T_TMPFS | T_NOFORK)
URIO_TEST(reentrancy, signal_ends_a_blocking_run_with_eintr_and_loses_nothing, BOTH, T_NOFORK)
URIO_TEST(reentrancy, signal_ends_a_wait_for_room_with_eintr, BOTH, T_NOFORK)
URIO_TEST(reentrancy, request_that_can_never_fit_is_refused_at_once, BOTH, T_NOFORK)
URIO_TEST(reentrancy, a_deadline_on_a_loop_capped_at_one_is_e2big, BOTH, T_NOFORK)
URIO_TEST(reentrancy, cancel_of_an_inline_read_is_answered_ealready, BOTH, T_TMPFS | T_NOFORK)
URIO_TEST(reentrancy, cancel_of_a_queued_request_takes_it_off_the_backlog, BOTH, T_NOFORK)
URIO_TEST(reentrancy, destroy_completes_queued_requests_once, BOTH, T_NOFORK)
URIO_TEST(reentrancy, callback_reads_its_completion_flags, BOTH, T_NOFORK)
URIO_TEST(reentrancy, every_path_at_once_keeps_every_bound_and_completes_once, BOTH, T_TMPFS | T_NOFORK)

/* URING: libaio has no registered-file table. */
URIO_TEST(target_recycling, a_million_open_close_cycles_run_in_constant_memory, BOTH, 0)
URIO_TEST(target_recycling, registered_file_slots_are_reused, URING, 0)
URIO_TEST(target_recycling, registered_targets_go_as_far_as_the_descriptors_do, URING, 0)
URIO_TEST(target_recycling, a_stale_handle_is_ebadf_even_when_its_struct_is_reused, BOTH, 0)
URIO_TEST(target_recycling, targets_left_open_are_closed_by_destroy, BOTH, 0)

/* Each case forks a child that takes the fault and picks its backends. */
URIO_TEST(teardown, each_creation_step_fails_cleanly_and_is_named, ANY, 0)
URIO_TEST(teardown, each_allocation_failure_is_clean_and_named, ANY, T_FAULTS)
URIO_TEST(teardown, a_loop_made_after_failed_creations_works, URING, T_NOFORK)

/* URING: pipe reads (block inside io_submit on libaio). */
URIO_TEST(timeout_cancel, timeout_fires_with_zero_after_its_time, BOTH, T_NOFORK)
URIO_TEST(timeout_cancel, shorter_timeout_completes_first, BOTH, T_NOFORK)
URIO_TEST(timeout_cancel, cancel_of_pending_timeout_gives_ecanceled_and_zero, BOTH, T_NOFORK)
URIO_TEST(timeout_cancel, longest_timeout_does_not_wrap_round_and_fire_at_once, BOTH, T_NOFORK)
URIO_TEST(timeout_cancel, cancel_of_pending_pipe_read_gives_ecanceled, URING, T_NOFORK)
URIO_TEST(timeout_cancel, cancel_finds_a_request_on_another_ring, URING, T_NOFORK)
URIO_TEST(timeout_cancel, cancel_of_unknown_or_finished_id_is_enoent, BOTH, T_NOFORK)
URIO_TEST(timeout_cancel, ids_of_reused_slots_differ, BOTH, T_NOFORK)
URIO_TEST(timeout_cancel, a_spinning_loop_still_sleeps_for_a_far_timeout, BOTH, T_NOFORK)

URIO_TEST(post, posts_from_four_threads_run_once_in_order_on_the_loop_thread, BOTH, T_NOFORK)
URIO_TEST(post, a_post_wakes_a_loop_asleep, BOTH, T_NOFORK)
URIO_TEST(post, a_post_makes_the_loop_fd_readable, BOTH, T_NOFORK)
URIO_TEST(post, posts_left_at_teardown_run_with_ecanceled, BOTH, T_NOFORK)
URIO_TEST(post, bad_posts_are_refused, BOTH, T_NOFORK)

URIO_TEST(multishot, recv_multi_delivers_every_byte_in_order_then_one_last, BOTH, T_NOFORK)
URIO_TEST(multishot, a_flood_that_overflows_a_naive_cq_does_not_overflow_urio, BOTH, T_NOFORK)
URIO_TEST(multishot, accept_multi_takes_a_flood_of_connections_on_a_small_loop, BOTH, T_NOFORK)
URIO_TEST(multishot, receives_wait_for_a_buffer_and_lose_nothing, BOTH, T_NOFORK)
URIO_TEST(multishot, cancel_by_fd_and_destroy_end_each_multishot_once, BOTH, T_NOFORK)
/* URING: its counts are io_uring's bound at entries 8 (12 in flight);
 * libaio's context there holds 16. */
URIO_TEST(multishot, buffer_groups_refuse_what_cannot_be, URING, T_NOFORK)

URIO_TEST(file_ops, open_write_sync_stat_read_close_on_the_loop, BOTH, T_NOFORK)
/* URING: libaio opens at submission (AIO has no open), so opening a FIFO
 * that has no writer blocks the thread there. */
URIO_TEST(file_ops, opening_a_fifo_without_o_nonblock_does_not_stop_the_loop, URING, T_NOFORK)
URIO_TEST(file_ops, sendfile_moves_every_byte_through_the_pipe, BOTH, T_NOFORK)
URIO_TEST(file_ops, a_stalled_sendfile_is_cancelled_and_the_loop_goes_on, BOTH, T_NOFORK)
URIO_TEST(file_ops, sendfiles_past_the_pipes_are_refused_and_destroy_ends_them, BOTH, T_NOFORK)

URIO_TEST(wait, policy_is_named_in_the_layout_and_its_options_checked, BOTH, T_NOFORK)
URIO_TEST(wait, waits_longer_than_a_spin_are_slept_not_spun, BOTH, T_NOFORK)
URIO_TEST(wait, a_fixed_spin_spins_before_every_sleep, BOTH, T_NOFORK)
URIO_TEST(wait, sleep_flag_never_spins, BOTH, T_NOFORK)
URIO_TEST(wait, requests_that_complete_at_submission_do_not_stretch_a_pass, BOTH, T_NOFORK)
URIO_TEST(wait, a_thread_on_one_cpu_never_spins, BOTH, T_NOFORK)
/* URING: SQPOLL is io_uring's. */
URIO_TEST(wait, an_sqpoll_loop_wakes_its_sleeping_sq_thread, URING, T_NOFORK)
URIO_TEST(wait, an_sqpoll_loop_reports_no_signal_that_was_not_sent, URING, T_NOFORK)
/* URING: socket receives (and min_wait batching is io_uring's). */
URIO_TEST(wait, a_batched_wait_never_holds_back_a_lone_completion, URING, T_NOFORK)
URIO_TEST(wait, a_signal_ends_a_batched_wait_with_eintr_and_loses_nothing, URING, T_NOFORK)
/* URING: a libaio loop has one context, no secondary ring. */
URIO_TEST(wait, a_lone_secondary_ring_wakes_for_completions_posts_and_signals, URING, T_NOFORK)

/* clang-format on */
