package dev.fraudstream;

import java.util.concurrent.CountDownLatch;

import org.codelibs.opensearch.runner.OpenSearchRunner;
import org.opensearch.common.settings.Settings;

/**
 * Runs ONE genuine OpenSearch node in this JVM for local development and tests.
 *
 * <p>Usage: {@code LocalOpenSearch <basePath> <httpPort> [transportPort]}.
 * The node keeps its config, data and logs under {@code <basePath>/node_1}, so
 * restarting with the same base path keeps the indices.
 *
 * <p>The process blocks until it receives SIGTERM/SIGINT; a shutdown hook then
 * closes the node so Lucene commits and the cluster state are flushed cleanly.
 */
public final class LocalOpenSearch {

    private static final String CLUSTER_NAME = "fraudstream-local";

    private LocalOpenSearch() {
    }

    public static void main(final String[] args) throws Exception {
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: LocalOpenSearch <basePath> <httpPort> [transportPort]");
            System.exit(2);
        }
        final String basePath = args[0];
        final int httpPort = Integer.parseInt(args[1]);
        final int transportPort = args.length == 3 ? Integer.parseInt(args[2]) : 9300;

        final OpenSearchRunner runner = new OpenSearchRunner();
        final CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (final Exception e) {
                System.err.println("failed to close OpenSearch cleanly: " + e);
            } finally {
                stopped.countDown();
            }
        }, "local-opensearch-shutdown"));

        // The runner otherwise probes ports upwards from 9201 and picks the
        // first free one; we want exactly the port we were given (or a failure).
        runner.setMaxHttpPort(-1);
        runner.onBuild((index, settings) -> {
            settings.put("http.port", String.valueOf(httpPort));
            settings.put("transport.port", String.valueOf(transportPort));
            settings.put("network.host", "127.0.0.1");
            settings.put("node.name", CLUSTER_NAME + "-" + index);
            // One node, no peers: skip discovery/bootstrap entirely.
            settings.put("discovery.type", "single-node");
            // The runner's default roles omit ingest; pipelines are handy locally.
            settings.putList("node.roles", "cluster_manager", "data", "ingest");
            // Dev machines often have fullish disks; never go read-only for that.
            settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
        });

        try {
            runner.build(OpenSearchRunner.newConfigs()
                    .basePath(basePath)
                    .numOfNode(1)
                    .clusterName(CLUSTER_NAME)
                    .printOnFailure());
            runner.ensureYellow();
            // A single node can never place replicas: default them to 0 so new
            // indices are green, not yellow (an index may still ask for more).
            // Only honoured as a cluster (not node) setting, hence persistent;
            // stack.py treats the node as ready once this setting is visible.
            runner.admin().cluster().prepareUpdateSettings()
                    .setPersistentSettings(Settings.builder()
                            .put("cluster.default_number_of_replicas", 0).build())
                    .get();
        } catch (final RuntimeException e) {
            e.printStackTrace();
            // halt, not exit: the shutdown hook would try to close a half-built node.
            Runtime.getRuntime().halt(1);
        }
        System.out.println("LocalOpenSearch: node started, http://127.0.0.1:" + httpPort);

        stopped.await();
    }
}
