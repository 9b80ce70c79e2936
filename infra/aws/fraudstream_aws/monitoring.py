"""Alarms to the alerts topic and one dashboard.

Dead letters and errors are counted from the services' JSON logs (stable event
names, ``level``), so no metrics agent is needed next to the containers.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from fraudstream_aws.config import SERVICES, EnvironmentConfig
from fraudstream_aws.services import Consumption, consumer_lag


class Monitoring(Construct):
    """Consumer lag, dead-letter rate, error rate and unhealthy-task alarms, and a dashboard."""

    def __init__(self, scope: Construct, cid: str, *, config: EnvironmentConfig,
                 topic: sns.ITopic,
                 services: Mapping[str, ecs.FargateService],
                 log_groups: Mapping[str, logs.ILogGroup],
                 consumers: Mapping[str, Consumption]) -> None:
        super().__init__(scope, cid)
        namespace = config.metrics_namespace
        action = actions.SnsAction(topic)
        self.alarms: list[cloudwatch.Alarm] = []
        lag_widgets, dlq_widgets, error_widgets, task_widgets = [], [], [], []

        for svc in SERVICES:
            group = log_groups[svc]
            dead = self._count_filter(group, f"{svc.capitalize()}DeadLetterFilter", namespace,
                                      "DeadLettered", svc,
                                      f'{{ $.event = "{svc}.message.dead_lettered" }}')
            errors = self._count_filter(group, f"{svc.capitalize()}ErrorFilter", namespace,
                                        "Errors", svc,
                                        '{ $.level = "error" || $.level = "critical" }')
            service = services[svc]
            running = cloudwatch.Metric(
                namespace="ECS/ContainerInsights", metric_name="RunningTaskCount",
                dimensions_map={"ClusterName": service.cluster.cluster_name,
                                "ServiceName": service.service_name},
                statistic="Minimum", period=Duration.minutes(1), label=svc)
            desired = config.task(svc).desired
            unhealthy = cloudwatch.Alarm(
                self, f"{svc.capitalize()}UnhealthyTasksAlarm", metric=running,
                threshold=desired, evaluation_periods=5,
                comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                # No data means no task reports at all: as bad as it gets.
                treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
                alarm_description=f"{svc}: fewer than {desired} healthy tasks for 5 minutes",
            )
            unhealthy.add_alarm_action(action)
            self.alarms.append(unhealthy)
            self._alarm(f"{svc}-dead-letters", dead, 10, action,
                        f"{svc}: more than 10 messages dead-lettered in 5 minutes")
            self._alarm(f"{svc}-errors", errors, 5, action,
                        f"{svc}: more than 5 error log lines in 5 minutes")
            dlq_widgets.append(dead)
            error_widgets.append(errors)
            task_widgets.append(running)
        for svc, consumption in consumers.items():
            # One-minute sums (each task sends one datum a minute), sustained for a while:
            # a buffering consumer's lag rises by design until its next flush.
            lag = consumer_lag(config.metrics_namespace, consumption).with_(label=svc)
            minutes = 15 if consumption.buffered else 5
            self._alarm(f"{svc}-consumer-lag", lag, config.lag_alarm, action,
                        f"{svc}: group {consumption.group} has lagged {config.lag_alarm}+ "
                        f"records on {consumption.topic} for {minutes} minutes",
                        evaluation_periods=minutes)
            lag_widgets.append(lag)

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard",
                                              dashboard_name=f"{config.stack_name}")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Consumer lag (records)", left=lag_widgets, width=12),
            cloudwatch.GraphWidget(title="Running tasks", left=task_widgets, width=12),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Dead-lettered messages", left=dlq_widgets, width=12),
            cloudwatch.GraphWidget(title="Error log lines", left=error_widgets, width=12),
        )

    def _count_filter(self, group: logs.ILogGroup, cid: str, namespace: str, name: str,
                      svc: str, pattern: str) -> cloudwatch.Metric:
        metric_filter = logs.MetricFilter(
            self, cid, log_group=group, metric_namespace=namespace, metric_name=name,
            filter_pattern=logs.FilterPattern.literal(pattern), metric_value="1",
            # One metric name for all services, told apart by the log line's own field.
            dimensions={"Service": "$.service"},
        )
        return metric_filter.metric(statistic="Sum", period=Duration.minutes(5),
                                    dimensions_map={"Service": svc}, label=svc)

    def _alarm(self, cid: str, metric: cloudwatch.IMetric, threshold: float,
               action: actions.SnsAction, description: str, *,
               evaluation_periods: int = 1) -> None:
        alarm = cloudwatch.Alarm(
            self, cid.title().replace("-", "") + "Alarm", metric=metric, threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(action)
        self.alarms.append(alarm)
